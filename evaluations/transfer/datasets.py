"""The transfer sets as torch Datasets: :func:`load_split` gives one split (train, val, trainval,
test) of a real dataset (its torchvision class over a user-given root, ``download=False``) or of a
stand-in, as :class:`TransferSplit` items ``(image tensor, target)`` with stable sample ids and a
fingerprint for the feature cache. Which dataset is read how is in
:mod:`evaluations.transfer.registry`; the seeded draws in :mod:`evaluations.transfer.splits`.

Stand-ins (:data:`STANDINS`) are read from a tree the project generates
(:func:`evaluations.transfer.standins.build_standins`)::

    <root>/<name>/{train,val,test}/<class>/<file>.png          single-label (ImageFolder)
    <root>/<name>/{train,val,test}/images/<file>.png           multi-label images
    <root>/<name>/{train,val,test}/labels.csv                  header ``file,<class 1>,..``;
                                                               one row per image, 0/1 columns
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from xml.etree.ElementTree import parse as xml_parse

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets as tvd
from torchvision.transforms import v2

# The registry's names are also reachable from here (the loaders' callers read both).
from evaluations.transfer.registry import (  # noqa: F401
    DEFAULT_SEED, METRICS, REGISTRY, SPLITS, VOC_CLASSES, DatasetSpec, HoldOutVal, Official, PerClassTrain,
    SunPartition, check_present, download, download_once, image_folders, metric_of, spec_of)
from evaluations.transfer.splits import per_class_split, read_partition, stratified_holdout, sun_partition_files
from evaluations.transfer.standins import STANDINS, StandinSpec, stands_for  # noqa: F401


# --------------------------------------------------------------------------- the split dataset
class VocLabels:
    """``target_transform`` of VOCDetection: parsed XML dict -> 0/1 float vector over 20 classes."""

    def __init__(self, classes: tuple[str, ...] = VOC_CLASSES):
        self.index = {c: i for i, c in enumerate(classes)}
        self.n = len(classes)

    def __call__(self, target: dict) -> torch.Tensor:
        y = torch.zeros(self.n, dtype=torch.float32)
        objects = target["annotation"].get("object", [])
        if isinstance(objects, dict):
            objects = [objects]
        for obj in objects:
            y[self.index[obj["name"].strip()]] = 1.0
        return y


def default_transform() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


@dataclass
class _Segment:
    base: Any
    indices: np.ndarray
    ids: list[str]
    labels: np.ndarray | None  # single-label targets of the selected samples, None for multi-label


class TransferSplit(Dataset):
    """One split: ``(image_tensor, target)`` items, ``target`` an int (single-label) or a 0/1 float
    vector (multi-label). ``ids`` names every sample stably (relative file paths); ``fingerprint``
    hashes the selection, so caches keyed on it change when the split does."""

    def __init__(self, name: str, split: str, segments: list[_Segment], transform: Callable | None,
                 multilabel: bool, metric: str, source: str, seed: int):
        self.name, self.split, self.segments = name, split, segments
        self.transform = transform if transform is not None else default_transform()
        self.multilabel, self.metric, self.source, self.seed = multilabel, metric, source, seed
        self._ends = np.cumsum([len(s.indices) for s in segments]).tolist()
        self.ids = [i for s in segments for i in s.ids]

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        if i < 0:
            i += len(self)
        k = bisect_right(self._ends, i)
        seg = self.segments[k]
        image, target = seg.base[int(seg.indices[i - (self._ends[k - 1] if k else 0)])]
        if isinstance(image, Image.Image) and image.mode != "RGB":
            image = image.convert("RGB")  # Caltech101 returns some greyscale images as they are
        if self.multilabel:
            target = torch.as_tensor(target, dtype=torch.float32)
        else:
            target = int(target)
        return self.transform(image), target

    @property
    def targets(self) -> list[int] | torch.Tensor:
        """All targets without decoding images: a list of ints, or an ``[N, C]`` float tensor."""
        if not self.multilabel:
            return [int(t) for s in self.segments for t in s.labels]
        rows = []
        for seg in self.segments:
            rows.extend(_multilabel_targets(seg.base, seg.indices))
        return torch.stack(rows) if rows else torch.zeros(0)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.name, self.split, self.source, len(self)]).encode())
        for sid in self.ids:
            h.update(sid.encode())
            h.update(b"\0")
        return h.hexdigest()


def _multilabel_targets(base: Any, indices: np.ndarray) -> list[torch.Tensor]:
    if isinstance(base, tvd.VOCDetection):
        return [base.target_transform(base.parse_voc_xml(xml_parse(base.annotations[int(i)]).getroot()))
                for i in indices]
    return [base.targets[int(i)] for i in indices]


# --------------------------------------------------------------------------- helpers on bases
def _base_labels(base: Any) -> np.ndarray:
    if isinstance(base, tvd.CIFAR10):
        return np.asarray(base.targets, dtype=np.int64)
    if isinstance(base, tvd.Caltech101):
        return np.asarray(base.y, dtype=np.int64)
    if isinstance(base, tvd.ImageFolder):
        return np.asarray(base.targets, dtype=np.int64)
    return np.asarray(base._labels, dtype=np.int64)


def _base_ids(base: Any, root: Path) -> list[str]:
    if isinstance(base, tvd.CIFAR10):
        part = "train" if base.train else "test"
        return [f"{part}/{i}" for i in range(len(base))]
    if isinstance(base, tvd.Caltech101):
        return [f"{base.categories[y]}/image_{k:04d}.jpg" for y, k in zip(base.y, base.index)]
    if isinstance(base, tvd.VOCDetection):
        return [Path(p).stem for p in base.images]
    if isinstance(base, tvd.ImageFolder):
        return [Path(p).relative_to(base.root).as_posix() for p, _ in base.samples]
    if isinstance(base, MultiLabelFolder):
        return list(base.files)
    if isinstance(base, tvd.OxfordIIITPet):
        files = base._images
    else:
        files = base._image_files
    return [Path(os.path.relpath(f, root)).as_posix() for f in files]

# --------------------------------------------------------------------------- loading
def _make_base(spec: DatasetSpec, root: Path, kwargs: dict[str, Any]) -> Any:
    from evaluations.transfer.replicas import miniature_integrity

    extra = {"target_transform": VocLabels()} if spec.multilabel else {}
    with miniature_integrity(root):  # the project's miniature trees (paper_smoke): no md5 to match
        return spec.tv_class(str(root), download=False, **kwargs, **extra)


def _segment(base: Any, positions: np.ndarray, root: Path, multilabel: bool) -> _Segment:
    ids = _base_ids(base, root)
    labels = None if multilabel else _base_labels(base)[positions]
    return _Segment(base, np.asarray(positions, dtype=np.int64), [ids[i] for i in positions], labels)


def _real_segments(spec: DatasetSpec, root: Path, split: str, seed: int) -> tuple[list[_Segment], str]:
    rule = spec.rule
    parts = ("train", "val") if split == "trainval" else (split,)
    bases: dict[str, Any] = {}

    def base_for(part: str) -> Any:
        key = json.dumps(spec.tv_kwargs[part], sort_keys=True)
        if key not in bases:
            bases[key] = _make_base(spec, root, spec.tv_kwargs[part])
        return bases[key]

    segments, source = [], type(rule).__name__
    if isinstance(rule, HoldOutVal):
        source = f"HoldOutVal({rule.fraction}, seed={seed})"
    for part in parts:
        base = base_for(part)
        if isinstance(rule, Official) or (isinstance(rule, HoldOutVal) and part == "test"):
            positions = np.arange(len(base))
        elif isinstance(rule, HoldOutVal):
            train, val = stratified_holdout(_base_labels(base), rule.fraction, seed)
            positions = train if part == "train" else val
        elif isinstance(rule, PerClassTrain):
            labels = _base_labels(base)
            trainval, test = per_class_split(labels, np.arange(len(labels)), seed, rule.n_trainval, strict=True)
            if part == "test":
                positions = test
            else:
                # round(5/30 * 30) = 5 val images per class, the other 25 train
                rel_train, rel_val = stratified_holdout(labels[trainval], rule.n_val / rule.n_trainval, seed + 1)
                positions = trainval[rel_val] if part == "val" else trainval[rel_train]
            source = f"PerClassTrain({rule.n_trainval},{rule.n_val}, seed={seed})"
        elif isinstance(rule, SunPartition):
            ids = _base_ids(base, root / "SUN397")
            order = np.argsort(np.asarray(ids), kind="stable")  # rglob's order is the filesystem's
            labels = _base_labels(base)
            files = sun_partition_files(root, rule.partition)
            if files is not None:
                position = {sid: i for i, sid in enumerate(ids)}
                pool, test = (read_partition(f, position) for f in files)
                source = f"SUN397 official partition {rule.partition} (val seed={seed})"
            else:
                warnings.warn(
                    f"SUN397: no official partition files under {root / 'SUN397' / 'Partitions'}; "
                    f"using a seeded per-class split of {rule.n_train}+{rule.n_test} images (seed={seed})",
                    stacklevel=3)
                pool, test = per_class_split(labels, order, seed, rule.n_train, strict=False, n_second=rule.n_test)
                source = f"SUN397 seeded {rule.n_train}+{rule.n_test} per class (seed={seed})"
            if part == "test":
                positions = test
            else:
                tr, va = stratified_holdout(labels[pool], rule.val_fraction, seed)
                positions = pool[tr] if part == "train" else pool[va]
            positions = positions[np.argsort(np.asarray(ids)[positions], kind="stable")]  # sorted by file
        else:  # pragma: no cover
            raise TypeError(rule)
        segments.append(_segment(base, positions, root, spec.multilabel))
    return segments, source


class MultiLabelFolder(Dataset):
    """``<split>/labels.csv`` (header ``file,<class 1>,..,<class K>``, 0/1 columns; ``file``
    relative to ``<split>``) -> ``(PIL RGB image, float tensor [K])``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        with open(self.root / "labels.csv", newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], [r for r in rows[1:] if r]
        if header[0] != "file":
            raise ValueError(f"{self.root / 'labels.csv'}: first column must be 'file', got {header[0]!r}")
        self.classes = header[1:]
        self.files = [r[0] for r in body]
        self.targets = [torch.tensor([float(v) for v in r[1:]], dtype=torch.float32) for r in body]
        for r, t in zip(body, self.targets):
            if len(t) != len(self.classes) or not bool(((t == 0) | (t == 1)).all()):
                raise ValueError(f"{self.root / 'labels.csv'}: bad row {r}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Image.Image, torch.Tensor]:
        with open(self.root / self.files[i], "rb") as f:
            image = Image.open(f).convert("RGB")
        return image, self.targets[i]


def _standin_segments(spec: StandinSpec, root: Path, split: str) -> list[_Segment]:
    segments = []
    for part in (("train", "val") if split == "trainval" else (split,)):
        folder = root / spec.name / part
        base = MultiLabelFolder(folder) if spec.multilabel else tvd.ImageFolder(str(folder))
        segments.append(_segment(base, np.arange(len(base)), root, spec.multilabel))
    return segments


def load_split(name: str, root: str | Path, split: str, transform: Callable | None = None, *,
               seed: int = DEFAULT_SEED) -> TransferSplit:
    """The ``split`` (train, val, trainval or test) of dataset ``name`` under data ``root``.

    Items are ``(transform(RGB image), target)``; ``transform`` defaults to a float tensor in
    [0, 1]. ``seed`` fixes the seeded splits (it is part of :meth:`TransferSplit.fingerprint`)."""
    spec = spec_of(name)
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: one of {SPLITS}")
    root = Path(root)
    check_present(name, root)
    if isinstance(spec, StandinSpec):
        segments, source = _standin_segments(spec, root, split), "generated"
    else:
        segments, source = _real_segments(spec, root, split, seed)
    return TransferSplit(name, split, segments, transform, spec.multilabel, spec.metric, source, seed)
