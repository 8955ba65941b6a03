"""The seeded split draws of the transfer protocol (evaluations.transfer.registry's split rules):
class-stratified hold-outs, per-class draws (Caltech-101, SUN397 without its partition files) and
SUN397's official partition files. Pure functions of labels, positions and a seed: the same
splits on every machine."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, val)`` into ``labels``: per class (ascending), a seeded permutation;
    ``round(fraction * n_c)`` go to val (at least 1 and at most ``n_c - 1`` when ``n_c >= 2``)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(np.floor(fraction * len(idx) + 0.5))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def per_class_split(labels: np.ndarray, order: np.ndarray, seed: int, n_first: int, *,
               strict: bool, n_second: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per class, in ``order`` (a permutation of positions giving the canonical sample order), a
    seeded permutation; the first ``n_first`` positions go to part one, the next ``n_second``
    (default: all the rest) to part two."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    ordered_labels = labels[order]
    for c in np.unique(labels):
        idx = rng.permutation(order[ordered_labels == c])
        if strict and len(idx) <= n_first:
            raise ValueError(f"class {c} has {len(idx)} images, needs more than {n_first}")
        k = n_first if strict else min(n_first, len(idx) // 2)
        rest = idx[k:] if n_second is None else idx[k:k + (n_second if strict else min(n_second, len(idx) - k))]
        first.append(idx[:k])
        second.append(rest)
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def sun_partition_files(root: Path, partition: int) -> tuple[Path, Path] | None:
    folder = root / "SUN397" / "Partitions"
    train, test = folder / f"Training_{partition:02d}.txt", folder / f"Testing_{partition:02d}.txt"
    return (train, test) if train.is_file() and test.is_file() else None


def read_partition(path: Path, position: dict[str, int]) -> np.ndarray:
    out = []
    for line in path.read_text().split():
        rel = line.strip().lstrip("/")
        if rel not in position:
            raise FileNotFoundError(f"{path} lists {rel}, which is not under {path.parents[1]}")
        out.append(position[rel])
    return np.sort(np.asarray(out, dtype=np.int64))
