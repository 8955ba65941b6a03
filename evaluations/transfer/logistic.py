"""L2-regularised logistic regression on frozen features, regulariser chosen on validation data.

Protocol (Kornblith et al. 2019, Sec. 3 / App.; SimCLR App. B.8): an L2-regularised multinomial
logistic regression trained with L-BFGS on the frozen features, no augmentation; the
regularisation strength is picked from 45 log-spaced values between 1e-6 and 1e5 by the metric on
the validation split; the model is then refit on train + val with that value and scored once on
the test split.

Implementation choices (documented, not from the papers' code, which is not public; each one is
a config value of ``eval.transfer``, see docs/protocols.md):

- Solver: scikit-learn ``LogisticRegression(solver="lbfgs", l1_ratio=0)`` (L2), multinomial for
  >= 3 classes; the intercept is not penalised. Objective: ``C * sum_i loss_i + ||W||^2 / 2``.
- The grid's meaning (``grid.meaning``). SimCLR App. B.5 selects "the l2 regularisation
  parameter" from 45 log-spaced values in [1e-6, 1e5] without saying how the loss is scaled.
  ``l2_strength`` (default): the values are the strength lambda of
  ``sum_i loss_i + lambda ||W||^2 / 2``, i.e. ``C = 1 / lambda`` -- the paper's wording and what
  Ericsson et al. 2021 (``linusericsson/ssl-transfer`` linear.py, the closest public
  re-implementation) do (``C = 1. / wd`` over ``torch.logspace(-6, 5, 45)``). ``C``: the values
  are scikit-learn's ``C`` themselves (several other re-implementations; C in 1e-6..1e5, the same
  quarter-decade steps shifted by one decade at the ends). :func:`c_values` converts.
- The grid is swept in increasing ``C`` with warm starts; ties on the validation score go to the
  smaller ``C`` (stronger regularisation).
- ``standardize`` (default false: App. B.5 names no feature standardisation, and ssl-transfer
  fits the raw features): true z-scores each dimension (``StandardScaler`` fitted on the rows the
  classifier is trained on: train during the search, train+val for the refit; val/test are only
  transformed), which makes one grid fit features of any scale and conditions L-BFGS.
- Multi-label (VOC2007): one binary logistic regression per class (one-vs-rest), one shared C
  chosen by the mAP over classes on val; a class constant in the training rows gets a constant
  score.
- Test data enter only :func:`refit_and_score`, called after :func:`select_c` has returned.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from evaluations.transfer.metrics import score as metric_score


def log_grid(low: float, high: float, num: int) -> tuple[float, ...]:
    """``num`` log-spaced values from ``low`` to ``high`` (both included): the config's ``c_grid``."""
    return tuple(float(c) for c in np.logspace(np.log10(low), np.log10(high), num))


DEFAULT_C_GRID: tuple[float, ...] = log_grid(1e-6, 1e5, 45)
DEFAULT_MAX_ITER = 1000
#: How the config's grid values are read: the L2 strength lambda (C = 1 / lambda) or C itself.
GRID_MEANINGS = ("l2_strength", "C")


def c_values(grid: Sequence[float], meaning: str) -> tuple[float, ...]:
    """scikit-learn ``C`` for each value of ``grid`` read as ``meaning`` (:data:`GRID_MEANINGS`)."""
    if meaning not in GRID_MEANINGS:
        raise ValueError(f"grid meaning must be one of {GRID_MEANINGS}, got {meaning!r}")
    return tuple(float(v) for v in grid) if meaning == "C" else tuple(1.0 / float(v) for v in grid)


def _np(x, dtype=np.float64) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


class _Model:
    """Scaler + one multinomial classifier (single-label) or one binary classifier per class."""

    def __init__(self, n_outputs: int, multilabel: bool, standardize: bool, max_iter: int, tol: float):
        self.n_outputs, self.multilabel, self.standardize = n_outputs, multilabel, standardize
        self.max_iter, self.tol = max_iter, tol
        self.scaler: StandardScaler | None = None
        self.clfs: list[LogisticRegression | float] = []
        self.not_converged = 0

    def _new(self, C: float) -> LogisticRegression:
        return LogisticRegression(C=C, l1_ratio=0.0, solver="lbfgs", max_iter=self.max_iter, tol=self.tol,
                                  warm_start=True)

    def fit(self, x: np.ndarray, y: np.ndarray, C: float) -> "_Model":
        """Fit with ``C``; a model fitted before (same rows) is warm-started."""
        if self.scaler is None:
            self.scaler = StandardScaler(with_mean=self.standardize, with_std=self.standardize).fit(x)
        xs = self.scaler.transform(x)
        targets = [y[:, k] for k in range(y.shape[1])] if self.multilabel else [y]
        if not self.clfs:
            self.clfs = [self._new(C) for _ in targets]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for k, t in enumerate(targets):
                if len(np.unique(t)) < 2:  # nothing to learn: constant score
                    self.clfs[k] = float(t[0]) if t.size else 0.0
                    continue
                clf = self.clfs[k] if isinstance(self.clfs[k], LogisticRegression) else self._new(C)
                clf.set_params(C=C)
                clf.fit(xs, t)
                self.clfs[k] = clf
                self.not_converged += int(np.max(clf.n_iter_) >= self.max_iter)
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        return _decision(self, x)


def _decision(model: _Model, x: np.ndarray) -> np.ndarray:
    """``[N, n_outputs]`` scores of ``x`` (the only place any feature matrix is scored)."""
    xs = model.scaler.transform(x)
    n = xs.shape[0]
    if model.multilabel:
        cols = [np.full(n, c) if isinstance(c, float) else c.decision_function(xs) for c in model.clfs]
        return np.stack(cols, axis=1)
    clf = model.clfs[0]
    out = np.full((n, model.n_outputs), -np.inf)
    if isinstance(clf, float):  # a single class in training
        out[:, int(clf)] = 0.0
        return out
    d = clf.decision_function(xs)
    if d.ndim == 1:  # binary: sklearn returns the score of classes_[1]
        d = np.stack([-d, d], axis=1) / 2
    out[:, clf.classes_.astype(int)] = d
    return out


def _n_outputs(multilabel: bool, *ys: np.ndarray) -> int:
    if multilabel:
        return ys[0].shape[1]
    return int(max(int(y.max()) for y in ys if y.size)) + 1


def _prepare(y, multilabel: bool | None) -> tuple[np.ndarray, bool]:
    y = _np(y, np.float64)
    ml = (y.ndim == 2) if multilabel is None else multilabel
    return (y if ml else y.astype(np.int64).ravel()), ml


def select_c(train_x, train_y, val_x, val_y, *, metric: str, multilabel: bool | None = None,
             c_grid: Sequence[float] | None = None, standardize: bool = False,
             max_iter: int = DEFAULT_MAX_ITER, tol: float = 1e-4) -> dict[str, Any]:
    """Fit on train for every ``C`` of the grid (ascending), score on val with ``metric``.

    Returns ``{"C": best C, "val_score": its val score (percent), "grid": [{"C", "val_score"}],
    "not_converged": fits that hit max_iter}``. Uses train and val only."""
    train_x, val_x = _np(train_x), _np(val_x)
    train_y, ml = _prepare(train_y, multilabel)
    val_y, _ = _prepare(val_y, ml)
    grid = sorted(float(c) for c in (DEFAULT_C_GRID if c_grid is None else c_grid))
    if not grid or grid[0] <= 0:
        raise ValueError(f"c_grid must hold positive values, got {c_grid}")
    model = _Model(_n_outputs(ml, train_y, val_y), ml, standardize, max_iter, tol)
    rows = []
    for C in grid:
        model.fit(train_x, train_y, C)
        rows.append({"C": C, "val_score": metric_score(metric, val_y, model.decision(val_x))})
    best = max(rows, key=lambda r: r["val_score"])  # first maximum: the smallest C among ties
    return {"C": best["C"], "val_score": best["val_score"], "grid": rows, "not_converged": model.not_converged}


def refit_and_score(trainval_x, trainval_y, test_x, test_y, *, C: float, metric: str,
                    multilabel: bool | None = None, standardize: bool = False,
                    max_iter: int = DEFAULT_MAX_ITER, tol: float = 1e-4, n_outputs: int | None = None) -> float:
    """Fit on train+val with ``C`` and return ``metric`` (percent) on test."""
    x, tx = _np(trainval_x), _np(test_x)
    y, ml = _prepare(trainval_y, multilabel)
    ty, _ = _prepare(test_y, ml)
    n = n_outputs or _n_outputs(ml, y, ty)
    model = _Model(n, ml, standardize, max_iter, tol).fit(x, y, C)
    return metric_score(metric, ty, model.decision(tx))


def linear_transfer(train_x, train_y, val_x, val_y, test_x, test_y, *, metric: str,
                    multilabel: bool | None = None, c_grid: Sequence[float] | None = None,
                    standardize: bool = False, max_iter: int = DEFAULT_MAX_ITER, tol: float = 1e-4) -> dict[str, Any]:
    """The whole protocol: :func:`select_c` on (train, val), then :func:`refit_and_score` on
    (train+val, test). Returns ``{"metric", "value" (percent), "C", "val_score", "grid",
    "n_train", "n_val", "n_test", "standardize", "solver", "not_converged"}``."""
    sel = select_c(train_x, train_y, val_x, val_y, metric=metric, multilabel=multilabel, c_grid=c_grid,
                   standardize=standardize, max_iter=max_iter, tol=tol)
    train_y_np, ml = _prepare(train_y, multilabel)
    val_y_np, _ = _prepare(val_y, ml)
    trainval_x = np.concatenate([_np(train_x), _np(val_x)])
    trainval_y = np.concatenate([train_y_np, val_y_np])
    value = refit_and_score(trainval_x, trainval_y, test_x, test_y, C=sel["C"], metric=metric, multilabel=ml,
                            standardize=standardize, max_iter=max_iter, tol=tol)
    return {
        "metric": metric, "value": value, "C": sel["C"], "val_score": sel["val_score"], "grid": sel["grid"],
        "n_train": int(len(train_y_np)), "n_val": int(len(val_y_np)), "n_test": int(len(_np(test_y))),
        "standardize": standardize, "solver": "sklearn LogisticRegression(lbfgs, L2)",
        "not_converged": sel["not_converged"],
    }
