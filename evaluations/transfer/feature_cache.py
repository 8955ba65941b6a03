"""Frozen features of a transfer split, extracted once and cached on disk.

Preprocessing is the protocol's (Kornblith et al. 2019; SimCLR App. B.8): resize the shorter side
to 224 with bicubic resampling, centre crop 224, no augmentation; :data:`PAPER_PREPROCESSING`.
The tiny profile passes a smaller :class:`Preprocessing`. The transform is the project's
``ssl_core.augment.originals.eval_transform`` (bicubic short-side resize, centre crop, ImageNet
normalisation) whenever mean/std are ImageNet's, else the same steps with the given mean/std.

Cache: ``<cache_dir>/<dataset>/<split>-<key>.pt``, a ``torch.save`` of
``{"features": float32 [N, D], "targets": int64 [N] or float32 [N, C], "key": key, "meta": {..}}``
written to a temporary file in the same folder and moved into place with ``os.replace`` (a killed
run never leaves a partial file under the final name). ``key`` is the sha256 of: the checkpoint's
content sha256, the dataset name and split, the split's fingerprint (the ordered sample ids of the
split, so a different seed or partition is another key), the preprocessing parameters and
:data:`CACHE_VERSION`. A checkpoint's content hash is memoised per (real path, size, mtime_ns) in
the process, so a checkpoint is read once however many splits use it.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms import v2

from evaluations.features import extract_features
from evaluations.transfer.datasets import DEFAULT_SEED, TransferSplit, load_split
from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD
from ssl_core.augment.originals import eval_transform

CACHE_VERSION = 1  # bump when what is stored (or how it is computed) changes


@dataclass(frozen=True)
class Preprocessing:
    """Centre-crop evaluation preprocessing: bicubic resize of the short side to ``resize``
    (``None``: to ``size``, the protocol's 224 -> 224), centre crop ``size``, normalise."""

    size: int = 224
    resize: int | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if self.interpolation != "bicubic":
            raise ValueError("the protocol resizes with bicubic interpolation only")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    @property
    def resize_to(self) -> int:
        return self.resize or self.size

    def transform(self) -> v2.Compose:
        if self.mean == tuple(IMAGENET_MEAN) and self.std == tuple(IMAGENET_STD):
            return eval_transform(self.size, self.resize_to)
        return v2.Compose([
            v2.ToImage(),
            v2.Resize(self.resize_to, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(self.size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(self.mean, self.std),
        ])

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resize"] = self.resize_to
        return d


PAPER_PREPROCESSING = Preprocessing(size=224, resize=224)

_SHA256: dict[tuple[str, int, int], str] = {}


def checkpoint_sha256(path: str | Path) -> str:
    """sha256 of the file's bytes, memoised per (real path, size, mtime_ns)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    memo = (real, st.st_size, st.st_mtime_ns)
    if memo not in _SHA256:
        h = hashlib.sha256()
        with open(real, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA256[memo] = h.hexdigest()
    return _SHA256[memo]


def cache_key(checkpoint_digest: str, dataset: str, split: str, preprocessing: Preprocessing,
              split_fingerprint: str) -> str:
    payload = {
        "version": CACHE_VERSION,
        "checkpoint_sha256": checkpoint_digest,
        "dataset": dataset,
        "split": split,
        "split_fingerprint": split_fingerprint,
        "preprocessing": preprocessing.as_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: str | Path, dataset: str, split: str, key: str) -> Path:
    return Path(cache_dir) / dataset / f"{split}-{key[:24]}.pt"


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _load(path: Path, key: str) -> dict[str, Any] | None:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unreadable: recompute (the rewrite is atomic)
        warnings.warn(f"feature cache {path} unreadable ({err}); recomputing", stacklevel=3)
        return None
    return obj if isinstance(obj, dict) and obj.get("key") == key else None


def features_for(backbone: nn.Module, checkpoint: str | Path, dataset: TransferSplit, *,
                 cache_dir: str | Path, preprocessing: Preprocessing, batch_size: int = 256,
                 num_workers: int = 0, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Features of an already-loaded split (its transform must be ``preprocessing.transform()``),
    from the cache when present; ``"cache_hit"`` says which."""
    key = cache_key(checkpoint_sha256(checkpoint), dataset.name, dataset.split, preprocessing,
                    dataset.fingerprint())
    path = cache_path(cache_dir, dataset.name, dataset.split, key)
    if path.is_file():
        obj = _load(path, key)
        if obj is not None:
            return {**obj, "cache_hit": True, "path": str(path)}
    feats, targets = extract_features(backbone, dataset, batch_size, num_workers, device,
                                      f"{dataset.name}/{dataset.split} features")
    obj = {
        "features": feats.float().contiguous(),
        "targets": targets.float() if dataset.multilabel else targets.long(),
        "key": key,
        "meta": {"dataset": dataset.name, "split": dataset.split, "source": dataset.source,
                 "seed": dataset.seed, "checkpoint": str(checkpoint), "preprocessing": preprocessing.as_dict(),
                 "n": len(dataset), "version": CACHE_VERSION},
    }
    _atomic_save(obj, path)
    return {**obj, "cache_hit": False, "path": str(path)}


def cached_features(backbone: nn.Module, checkpoint: str | Path, dataset: str, split: str, *,
                    data_root: str | Path, cache_dir: str | Path, preprocessing: Preprocessing = PAPER_PREPROCESSING,
                    seed: int = DEFAULT_SEED, batch_size: int = 256, num_workers: int = 0,
                    device: torch.device | str = "cpu") -> dict[str, Any]:
    """Features and targets of ``split`` of ``dataset`` (under ``data_root``) through ``backbone``
    (an ``nn.Module`` mapping ``[B, 3, H, W]`` to ``[B, D]``, whose weights are the file
    ``checkpoint``), extracted once per cache key. Returns the cached dict plus ``cache_hit``."""
    split_ds = load_split(dataset, data_root, split, preprocessing.transform(), seed=seed)
    return features_for(backbone, checkpoint, split_ds, cache_dir=cache_dir, preprocessing=preprocessing,
                        batch_size=batch_size, num_workers=num_workers, device=device)
