"""One Table 1 cell: frozen features of train/val/test (cached), then the logistic protocol."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from evaluations.transfer.registry import DEFAULT_SEED, metric_of, spec_of
from evaluations.transfer.feature_cache import PAPER_PREPROCESSING, Preprocessing, cached_features
from evaluations.transfer.logistic import DEFAULT_MAX_ITER, linear_transfer


def evaluate_transfer(backbone: nn.Module, checkpoint: str | Path, dataset: str, *, data_root: str | Path,
                      cache_dir: str | Path, preprocessing: Preprocessing = PAPER_PREPROCESSING,
                      c_grid: Sequence[float] | None = None, standardize: bool = False, seed: int = DEFAULT_SEED,
                      batch_size: int = 256, num_workers: int = 0, device: torch.device | str = "cpu",
                      max_iter: int = DEFAULT_MAX_ITER) -> dict[str, Any]:
    """Transfer score of ``backbone`` (weights from ``checkpoint``) on ``dataset`` (a name of
    ``REGISTRY`` or ``STANDINS``). Returns :func:`linear_transfer`'s dict plus ``dataset``,
    ``task``, ``split_source``, ``preprocessing`` and ``cache_hits``."""
    feats = {
        split: cached_features(backbone, checkpoint, dataset, split, data_root=data_root, cache_dir=cache_dir,
                               preprocessing=preprocessing, seed=seed, batch_size=batch_size,
                               num_workers=num_workers, device=device)
        for split in ("train", "val", "test")
    }
    result = linear_transfer(
        feats["train"]["features"], feats["train"]["targets"], feats["val"]["features"], feats["val"]["targets"],
        feats["test"]["features"], feats["test"]["targets"], metric=metric_of(dataset),
        multilabel=spec_of(dataset).multilabel, c_grid=c_grid, standardize=standardize, max_iter=max_iter)
    return {
        "dataset": dataset, "task": "transfer_linear", **result,
        "split_source": feats["train"]["meta"]["source"], "seed": seed,
        "preprocessing": preprocessing.as_dict(),
        "cache_hits": {s: f["cache_hit"] for s, f in feats.items()},
    }
