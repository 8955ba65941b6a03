"""The regulariser is chosen on validation data only; the refit uses train+val; test is scored once."""
from __future__ import annotations

import numpy as np
import pytest

from evaluations.transfer import logistic as L

GRID = (1e-6, 1e-3, 1.0, 1e3)


def _imbalanced(rng, n, shift=1.5):
    """80 % class 0; feature 0 is shifted by the class, four noise features."""
    y = (rng.random(n) < 0.2).astype(int)
    x = rng.normal(size=(n, 5))
    x[:, 0] += shift * (2 * y - 1)
    return x, y


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    train_x, train_y = _imbalanced(rng, 200)
    val_x, val_y = _imbalanced(rng, 50)
    test_x, test_y = _imbalanced(rng, 70)
    return train_x, train_y, val_x, val_y, test_x, test_y


def test_default_grid_is_45_log_spaced_values_from_1e_6_to_1e5():
    g = np.asarray(L.DEFAULT_C_GRID)
    assert len(g) == 45 and g[0] == pytest.approx(1e-6) and g[-1] == pytest.approx(1e5)
    assert np.allclose(np.diff(np.log10(g)), 0.25)


def test_chosen_c_follows_val_and_ignores_test(data):
    train_x, train_y, val_x, val_y, test_x, test_y = data
    # val labels drawn like train: the feature helps, weak regularisation wins
    a = L.linear_transfer(train_x, train_y, val_x, val_y, test_x, test_y, metric="top1", c_grid=GRID)
    assert a["C"] >= 1.0
    # only val changes (every val label 0): predicting the majority class everywhere -- what a
    # tiny C gives, as the unpenalised intercept dominates -- is now best; ties go to the smaller C
    b = L.linear_transfer(train_x, train_y, val_x, np.zeros_like(val_y), test_x, test_y, metric="top1", c_grid=GRID)
    assert b["C"] == 1e-6 and b["val_score"] == 100.0
    # only test changes (labels flipped): same choice, same grid scores, another test score
    c = L.linear_transfer(train_x, train_y, val_x, val_y, test_x, 1 - test_y, metric="top1", c_grid=GRID)
    assert c["C"] == a["C"] and c["grid"] == a["grid"] and c["value"] != a["value"]
    assert [r["C"] for r in a["grid"]] == list(GRID)
    assert (a["n_train"], a["n_val"], a["n_test"]) == (200, 50, 70)


def test_test_rows_are_never_fitted_and_scored_only_after_selection(data, monkeypatch):
    train_x, train_y, val_x, val_y, test_x, test_y = data
    events = []
    fit, decision = L._Model.fit, L._decision

    def spy_fit(self, x, y, C):
        events.append(("fit", len(x)))
        return fit(self, x, y, C)

    def spy_decision(model, x):
        events.append(("score", len(x)))
        return decision(model, x)

    monkeypatch.setattr(L._Model, "fit", spy_fit)
    monkeypatch.setattr(L, "_decision", spy_decision)
    L.linear_transfer(train_x, train_y, val_x, val_y, test_x, test_y, metric="top1", c_grid=GRID)
    n_grid = len(GRID)
    # the search: fit on the 200 train rows, score the 50 val rows, once per C
    assert events[: 2 * n_grid] == [("fit", 200), ("score", 50)] * n_grid
    # then one refit on train + val (250 rows) and one scoring of the 70 test rows, last
    assert events[2 * n_grid:] == [("fit", 250), ("score", 70)]


def test_multilabel_one_vs_rest_map11():
    rng = np.random.default_rng(1)

    def make(n):
        y = (rng.random((n, 3)) < 0.4).astype(float)
        y[:, 2] = 0  # a class never present: constant score, left out of the mAP
        x = rng.normal(size=(n, 6)) * 0.5
        x[:, :3] += 2 * y
        return x, y

    (tx, ty), (vx, vy), (sx, sy) = make(80), make(30), make(40)
    sy[5, 2] = 1  # a test positive of the never-trained class: scored with its constant, no crash
    r = L.linear_transfer(tx, ty, vx, vy, sx, sy, metric="map11", c_grid=(1e-3, 1.0))
    assert r["metric"] == "map11" and 0 <= r["value"] <= 100
    assert r["val_score"] > 95  # classes 0 and 1 are separable; class 2 has no val positive
    assert r["value"] > 60  # (AP0 + AP1 + AP2) / 3 with AP0, AP1 near 1


def test_single_label_with_a_class_absent_from_training():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 4))
    y = np.repeat([0, 1, 2], 10)
    x[np.arange(30), y] += 3
    # class 2 only in test: its column is -inf, never predicted; no crash
    r = L.linear_transfer(x[:15][y[:15] < 2], y[:15][y[:15] < 2], x[15:20], y[15:20], x, y, metric="mean_per_class",
                          c_grid=(1.0,))
    assert r["value"] == pytest.approx(100 * 2 / 3, abs=10)
