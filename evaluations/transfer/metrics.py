"""Transfer metrics of Table 1, as fractions in [0, 1] (``score`` gives percent).

- ``top1``: fraction of correct argmax predictions.
- ``mean_per_class``: per-class accuracy (recall) averaged over the classes present in ``y_true``
  (Kornblith et al. 2019 for Pets, Aircraft, Flowers, Caltech-101).
- ``map11``: VOC2007 11-point interpolated average precision per class, averaged over classes
  (VOC2007 devkit ``VOCevalcls``/``VOCap`` with the 2007 11-point rule): rank by decreasing score
  (ties in input order, as MATLAB's stable ``sort``), precision/recall at every rank, and
  ``AP = mean_{t in 0, 0.1, .., 1} max{precision at ranks with recall >= t}`` (0 where no rank
  reaches recall t). Classes without a positive in ``y_true`` have no AP and are left out.
"""
from __future__ import annotations

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 11)


def _as_np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def top1(y_true, y_pred) -> float:
    y_true, y_pred = _as_np(y_true).ravel(), _as_np(y_pred).ravel()
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"top1: {y_true.shape} targets vs {y_pred.shape} predictions")
    return float((y_true == y_pred).mean())


def mean_per_class_accuracy(y_true, y_pred) -> float:
    y_true, y_pred = _as_np(y_true).ravel(), _as_np(y_pred).ravel()
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"mean_per_class_accuracy: {y_true.shape} targets vs {y_pred.shape} predictions")
    return float(np.mean([(y_pred[y_true == c] == c).mean() for c in np.unique(y_true)]))


def voc11_ap(y_true, scores) -> float:
    """11-point interpolated AP of one class: ``y_true`` 0/1 ``[N]``, ``scores`` ``[N]``."""
    y_true, scores = _as_np(y_true).ravel().astype(bool), _as_np(scores).ravel().astype(np.float64)
    if y_true.shape != scores.shape:
        raise ValueError(f"voc11_ap: {y_true.shape} targets vs {scores.shape} scores")
    n_pos = int(y_true.sum())
    if n_pos == 0:
        raise ValueError("voc11_ap: no positive example, AP is undefined")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(y_true[order])
    fp = np.cumsum(~y_true[order])
    recall = tp / n_pos
    precision = tp / (tp + fp)
    ap = 0.0
    for t in RECALL_POINTS:
        reached = recall >= t - 1e-12  # 0.1 * 3 = 0.30000000000000004: compare with a tolerance
        ap += (precision[reached].max() if reached.any() else 0.0) / len(RECALL_POINTS)
    return float(ap)


def voc11_map(y_true, scores) -> float:
    """Mean over classes (columns) of :func:`voc11_ap`; ``y_true`` 0/1 and ``scores`` ``[N, C]``."""
    y_true, scores = _as_np(y_true), _as_np(scores)
    if y_true.ndim != 2 or y_true.shape != scores.shape:
        raise ValueError(f"voc11_map: {y_true.shape} targets vs {scores.shape} scores, both must be [N, C]")
    aps = [voc11_ap(y_true[:, c], scores[:, c]) for c in range(y_true.shape[1]) if y_true[:, c].any()]
    if not aps:
        raise ValueError("voc11_map: no class has a positive example")
    return float(np.mean(aps))


def score(metric: str, y_true, scores) -> float:
    """``metric`` (top1, mean_per_class, map11) in percent from decision ``scores`` ``[N, C]``."""
    scores = _as_np(scores)
    if metric == "map11":
        return 100.0 * voc11_map(y_true, scores)
    pred = scores.argmax(axis=1)
    if metric == "top1":
        return 100.0 * top1(y_true, pred)
    if metric == "mean_per_class":
        return 100.0 * mean_per_class_accuracy(y_true, pred)
    raise ValueError(f"unknown metric {metric!r}: top1, mean_per_class or map11")
