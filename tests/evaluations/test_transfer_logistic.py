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


def _binary(rng, n=120, d=4):
    x = rng.normal(size=(n, d))
    y = (x @ np.array([1.5, -1.0, 0.5, 0.0])[:d] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return x, y


@pytest.mark.parametrize("lam", [0.1, 3.0, 50.0])
def test_l2_strength_grid_fits_the_minimiser_of_loss_sum_plus_lambda_half_w2(lam):
    """The grid read as the L2 strength lambda: the fitted (w, b) is the minimiser of
    sum_i log-loss_i + lambda / 2 ||w||^2 (intercept unpenalised), checked by its stationarity
    conditions written out here in NumPy: X^T (p - y) + lambda w = 0 and sum(p - y) = 0."""
    x, y = _binary(np.random.default_rng(3))
    (C,) = L.c_values((lam,), "l2_strength")
    clf = L._Model(2, False, False, max_iter=10_000, tol=1e-12).fit(x, y, C).clfs[0]
    w, b = clf.coef_.ravel(), clf.intercept_[0]
    p = 1 / (1 + np.exp(-(x @ w + b)))
    np.testing.assert_allclose(x.T @ (p - y) + lam * w, 0, atol=1e-5)
    assert abs(np.sum(p - y)) < 1e-5
    # the same value read as C is the inverse: C * X^T (p - y) + w = 0 at lambda = 1 / value
    (C,) = L.c_values((lam,), "C")
    w2 = L._Model(2, False, False, max_iter=10_000, tol=1e-12).fit(x, y, C).clfs[0].coef_.ravel()
    assert C == lam and (np.linalg.norm(w2) > np.linalg.norm(w)) == (lam > 1)


def test_c_values_reads_the_grid_as_named():
    assert L.c_values((1e-6, 1.0, 1e5), "l2_strength") == pytest.approx((1e6, 1.0, 1e-5))
    assert L.c_values((1e-6, 1.0, 1e5), "C") == (1e-6, 1.0, 1e5)
    with pytest.raises(ValueError, match="meaning"):
        L.c_values((1.0,), "lambda")


def test_standardize_makes_the_fit_blind_to_feature_scale_and_raw_features_are_not():
    """Known answer: z-scoring removes any per-dimension affine change of the features, so the
    standardised classifier's scores do not move when one feature is multiplied by 1000 and shifted;
    on raw features the same L2 penalty then barely restrains that feature, and the scores move."""
    rng = np.random.default_rng(4)
    x, y = _binary(rng)
    tx, _ = _binary(rng, 40)
    scale, shift = np.array([1000.0, 1.0, 1.0, 1.0]), np.array([5.0, 0.0, 0.0, 0.0])

    def scores(standardize, a, b):
        return L._Model(2, False, standardize, max_iter=10_000, tol=1e-10).fit(a, y, 0.01).decision(b)

    np.testing.assert_allclose(scores(True, x * scale + shift, tx * scale + shift), scores(True, x, tx), atol=1e-4)
    model = L._Model(2, False, True, 1000, 1e-4).fit(x * scale + shift, y, 0.01)
    np.testing.assert_allclose(model.scaler.mean_, (x * scale + shift).mean(0))  # fitted on the training rows
    raw, raw_scaled = scores(False, x, tx), scores(False, x * scale + shift, tx * scale + shift)
    assert np.abs(raw_scaled - raw).max() > 0.1
