"""evaluations.stats on inputs with known answers: hand-computed t intervals, scipy as a check."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from evaluations import stats as S


def _rows(pairs, method="simclr", arch="resnet_tiny", task="linear", dataset="shapes", metric="top1"):
    """metrics.csv rows: one baseline and one rescued run per seed, values (baseline, rescued)."""
    return pd.DataFrame([{"run": f"{variant}-{seed}", "method": method, "arch": arch, "variant": variant,
                          "seed": seed, "task": task, "dataset": dataset, "metric": metric, "value": value}
                         for seed, values in enumerate(pairs) for variant, value in zip(S.PAIR, values)])


def test_t_interval_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.302653 -> +- 2.484138
    iv = S.interval([1.0, 2.0, 3.0])
    assert (iv.mean, iv.n, iv.method) == (2.0, 3, "t")
    assert iv.half_width == pytest.approx(2.484138, abs=1e-6)
    assert (iv.low, iv.high) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)
    assert iv.sign == 0  # the interval reaches below 0
    # two values 0 and 2: mean 1, se 1, t(0.975, 1) = 12.706205
    assert S.interval([0.0, 2.0]).half_width == pytest.approx(12.706205, abs=1e-6)


def test_paired_interval_matches_scipy_paired_t_test():
    rng = np.random.default_rng(1)
    base = rng.normal(50, 2, size=7)
    resc = base + rng.normal(1.0, 0.3, size=7)
    diff = S.paired_differences(_rows(zip(base, resc))).iloc[0]
    ci = sps.ttest_rel(resc, base).confidence_interval(0.95)
    assert (diff.ci_low, diff.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert diff.n == 7 and diff.ci_method == "t" and diff["mean"] == pytest.approx((resc - base).mean())


def test_pairs_are_matched_by_seed_not_by_order():
    df = _rows([(10.0, 11.0), (20.0, 21.0), (30.0, 31.0)])
    shuffled = df.sample(frac=1, random_state=0)
    diff = S.paired_differences(shuffled).iloc[0]
    # every pair differs by exactly 1: zero spread, the interval is the point 1
    assert diff["mean"] == pytest.approx(1.0) and diff.half_width == pytest.approx(0.0)
    # unpaired, the same numbers would have a spread of 10 points
    assert S.interval(df[df.variant == "rescued"].value).half_width > 10


def test_seed_without_partner_is_left_out():
    df = _rows([(10.0, 12.0), (20.0, 22.0), (30.0, 40.0)])
    df = df[~((df.seed == 2) & (df.variant == "baseline"))]
    diff = S.paired_differences(df).iloc[0]
    assert diff.n == 2 and diff["mean"] == pytest.approx(2.0)


def test_one_seed_has_no_interval_and_no_verdict():
    iv = S.interval([3.0])
    assert iv.n == 1 and math.isnan(iv.low) and math.isnan(iv.half_width) and iv.sign == 0
    assert S.verdict(1.1, iv) == "inconclusive"
    assert S.better_variant(iv.low, iv.high) is None
    assert S.verdict(1.1, S.interval([])) == "not run"


def test_verdicts():
    up, down, both = S.interval([1.0, 1.2, 0.9]), S.interval([-1.0, -1.2, -0.9]), S.interval([-1.0, 1.0, 0.1])
    assert [S.verdict(0.6, iv) for iv in (up, down, both)] == ["reproduced", "contradicted", "inconclusive"]
    assert S.verdict(-0.3, down) == "reproduced"  # a published loss that we also measure
    assert S.verdict(0.0, up) == "contradicted" and S.verdict(0.0, both) == "inconclusive"  # a published tie
    assert [S.better_variant(iv.low, iv.high) for iv in (up, down, both)] == ["rescued", "baseline", None]


def test_many_seeds_use_a_reproducible_bootstrap():
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 1.0, size=S.BOOTSTRAP_MIN_N)
    iv = S.interval(x)
    assert iv.method == "bootstrap" and iv == S.interval(x)  # fixed generator: same interval every time
    t = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert iv.low == pytest.approx(t[0], abs=0.1) and iv.high == pytest.approx(t[1], abs=0.1)
    assert S.interval(x[:-1]).method == "t"


def test_variant_summary_mean_std_and_interval():
    summary = S.variant_summary(_rows([(10.0, 11.0), (12.0, 15.0)])).set_index("variant")
    assert summary.loc["baseline", "mean"] == 11.0 and summary.loc["baseline", "std"] == pytest.approx(math.sqrt(2))
    assert summary.loc["rescued", "half_width"] == pytest.approx(12.706205 * 2, rel=1e-6)  # sd sqrt(8), se 2
    assert (summary.n == 2).all()
