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
    assert S.verdict(1.1, iv) == "inconclusive (underpowered)"  # one pair cannot decide
    assert S.better_variant(iv.low, iv.high) is None
    assert S.verdict(1.1, S.interval([])) == "not run"


def test_verdicts():
    up, down, both = S.interval([1.0, 1.2, 0.9]), S.interval([-1.0, -1.2, -0.9]), S.interval([-1.0, 1.0, 0.1])
    assert [S.verdict(0.6, iv) for iv in (up, down, both)] == ["reproduced", "contradicted", "inconclusive"]
    assert S.verdict(-0.3, down) == "reproduced"  # a published loss that we also measure
    assert S.verdict(0.0, up) == "contradicted" and S.verdict(0.0, both) == "inconclusive"  # a published tie
    assert S.verdict(0.0, down) == "contradicted"
    assert [S.better_variant(iv.low, iv.high) for iv in (up, down, both)] == ["rescued", "baseline", None]


def test_new_verdicts_smaller_than_published_and_underpowered():
    small = S.interval([0.1, 0.3, 0.2])  # [-0.05, 0.45]: excludes 0 above? no; excludes 1.1 below: yes
    assert small.sign == 0 and S.verdict(1.1, small) == "smaller than published"
    assert S.verdict(0.2, small) == "inconclusive"  # contains 0 and 0.2
    positive = S.interval([0.4, 0.5, 0.45])  # excludes 0 above, below 1.1
    assert S.verdict(1.1, positive) == "smaller than published" and S.verdict(0.45, positive) == "reproduced"
    assert S.verdict(0.1, positive) == "reproduced"  # beyond the published gain: still reproduced
    assert S.verdict(-1.1, S.interval([-0.1, -0.3, -0.2])) == "smaller than published"  # a published loss
    wide = S.interval([-3.0, 1.0, 4.0])
    assert S.verdict(1.1, wide, detectable=5.0) == "inconclusive (underpowered)"
    assert S.verdict(1.1, wide, detectable=1.0) == "inconclusive"
    assert S.verdict(1.1, wide) == "inconclusive"  # power unknown: not marked


def test_power_matches_textbook_values():
    # Cohen (1988) / G*Power, one-sample (paired) t, two-sided alpha 0.05, power 0.8: effect size
    # d = 0.2, 0.5, 0.8 need 199, 34, 15 pairs (achieved power 0.8017, 0.8078, 0.8213).
    for d, n, achieved in ((0.2, 199, 0.8017), (0.5, 34, 0.8078), (0.8, 15, 0.8213)):
        assert S.pairs_for_power(d, 1.0) == n
        assert S.power(d, 1.0, n) == pytest.approx(achieved, abs=1e-4)
        assert S.power(d, 1.0, n - 1) < 0.8
    assert S.power(0.5, 1.0, 34) == pytest.approx(S.power(-0.5, 1.0, 34))  # two-sided: symmetric
    assert S.power(0.0, 1.0, 10) == pytest.approx(0.05)  # no effect: the test's level


def test_power_against_the_normal_approximation_and_a_simulation():
    # large n: the noncentral t tends to the normal, power = Phi(d sqrt(n) - z) + Phi(-d sqrt(n) - z)
    d, n, z = 0.3, 400, sps.norm.ppf(0.975)
    normal = sps.norm.cdf(d * math.sqrt(n) - z) + sps.norm.cdf(-d * math.sqrt(n) - z)
    assert S.power(d, 1.0, n) == pytest.approx(normal, abs=2e-3)
    # small n: the share of simulated paired t tests that reject
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(20_000, 8))
    rejected = (sps.ttest_1samp(x, 0.0, axis=1).pvalue < 0.05).mean()
    assert S.power(1.0, 2.0, 8) == pytest.approx(rejected, abs=0.01)


def test_detectable_effect_and_pairs_of_the_small_reference():
    # issue 27's reanalysis of results/reference/small (paired diffs, seeds 0-4): pairs for a +-1.0
    # interval and for 80 % power at +1: SimCLR 21 / 40, MoCo v3 23 / 43, DINOv2 39 / 77; power at +1
    # with 5 pairs 9-13 %.
    for diffs, for_ci, for_power in (([-4.79, -0.78, -1.46, 0.88, 0.10], 21, 40),
                                     ([1.17, 2.44, 4.10, 0.98, -2.05], 23, 43),
                                     ([-1.17, -6.25, 2.05, -3.12, -0.68], 39, 77)):
        sd = float(np.std(diffs, ddof=1))
        assert (S.pairs_for_half_width(1.0, sd), S.pairs_for_power(1.0, sd)) == (for_ci, for_power)
        assert 0.08 < S.power(1.0, sd, 5) < 0.13
        mde = S.detectable_effect(sd, 5)
        assert S.power(mde, sd, 5) == pytest.approx(0.8, abs=1e-6) and mde > 1.0
        assert S.interval(diffs).half_width <= 1.0 or len(diffs) < for_ci
    h = S.pairs_for_half_width(1.0, 2.19)
    assert sps.t.ppf(0.975, h - 1) * 2.19 / math.sqrt(h) <= 1.0 < sps.t.ppf(0.975, h - 2) * 2.19 / math.sqrt(h - 1)
    assert math.isnan(S.detectable_effect(2.0, 1)) and math.isnan(S.pairs_for_power(0.0, 1.0))


def _rliable_probability_of_improvement(scores_x, scores_y):
    """A transcription of rliable.metrics.probability_of_improvement (google-research/rliable):
    scores of shape (num_runs, num_tasks), P(X_m > Y_m) averaged over tasks."""
    num_tasks = scores_x.shape[1]
    task_improvement_probabilities = []
    num_runs_x, num_runs_y = scores_x.shape[0], scores_y.shape[0]
    for task in range(num_tasks):
        if np.array_equal(scores_x[:, task], scores_y[:, task]):
            task_improvement_prob = 0.5
        else:
            task_improvement_prob, _ = sps.mannwhitneyu(scores_x[:, task], scores_y[:, task], alternative="greater")
            task_improvement_prob /= (num_runs_x * num_runs_y)
        task_improvement_probabilities.append(task_improvement_prob)
    return np.mean(task_improvement_probabilities)


def test_probability_of_improvement_is_rliables():
    rng = np.random.default_rng(3)
    cases = [(rng.normal(1, 1, 5), rng.normal(0, 1, 5)), (rng.normal(0, 1, 7), rng.normal(0, 1, 4)),
             (np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])),  # ties count one half
             (np.array([1.0, 2.0]), np.array([1.0, 2.0])), (np.array([5.0, 6.0]), np.array([1.0, 2.0]))]
    for x, y in cases:
        assert S.probability_of_improvement(x, y) == pytest.approx(
            _rliable_probability_of_improvement(x[:, None], y[:, None]), abs=1e-12)
    assert S.probability_of_improvement([5.0, 6.0], [1.0, 2.0]) == 1.0


def test_improvement_interval_is_rliables_independent_percentile_bootstrap():
    # rliable.library.get_interval_estimates on a pair of score arrays: StratifiedIndependentBootstrap
    # (each array resampled with replacement on its own), percentile interval. Transcribed with
    # rliable's own sampling calls (np.random.choice) and metric; another generator, so the bounds
    # agree to Monte Carlo error.
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.5, 1, 6), rng.normal(0, 1, 6)
    ours = S.improvement_interval(x, y, reps=4000)
    assert ours == S.improvement_interval(x, y, reps=4000)  # fixed generator
    legacy = np.random.RandomState(0)
    boot = [_rliable_probability_of_improvement(x[legacy.choice(6, (6, 1))], y[legacy.choice(6, (6, 1))])
            for _ in range(4000)]
    low, high = np.percentile(boot, [2.5, 97.5])
    assert ours.mean == pytest.approx(_rliable_probability_of_improvement(x[:, None], y[:, None]))
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=0.04)
    assert ours.low <= ours.mean <= ours.high
    assert math.isnan(S.improvement_interval([1.0], [0.0]).low)


def test_gain_trend_slope_and_gain_at_a_value():
    # seed gains exactly -4 per unit of s, offset by seed: slope -4 with zero spread
    diffs = pd.DataFrame({0.25: [1.0, 2.0, 0.0], 0.75: [-1.0, 0.0, -2.0], 1.5: [-4.0, -3.0, -5.0]}, index=[0, 1, 2])
    slope, gain = S.gain_trend(diffs, 0.75)
    assert slope.mean == pytest.approx(-4.0) and slope.half_width == pytest.approx(0.0, abs=1e-9)
    assert gain.mean == pytest.approx(-1.0) and gain.n == 3  # measured at 0.75
    _, between = S.gain_trend(diffs, 0.5)  # not swept: the line's value
    assert between.mean == pytest.approx(0.0)
    assert S.gain_trend(diffs, 5.0)[1].n == 0  # outside the swept range: no gain
    k = pd.DataFrame({2: [0.0, 1.0], 4: [1.0, 2.0], 8: [2.0, 3.0]}, index=[0, 1])
    assert S.gain_trend(k, 4, log2=True)[0].mean == pytest.approx(1.0)  # per doubling


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


def test_val_noise_by_hand():
    labels = [0, 1, 2, 3]
    base = pd.DataFrame({"index": range(4), "label": labels, "predicted": [0, 1, 0, 0]})  # correct: 1 1 0 0
    resc = pd.DataFrame({"index": range(4), "label": labels, "predicted": [0, 0, 2, 0]})  # correct: 1 0 1 0
    # D = 0 -1 1 0: var (ddof 1) 2/3, over 4 images 1/6, in points^2 10000/6; they disagree on 2 of 4
    noise = S.val_noise([(base, resc)])
    assert noise["val_var"] == pytest.approx(1e4 / 6) and noise["disagree"] == 0.5
    with pytest.raises(ValueError, match="same val images"):
        S.val_noise([(base, resc.assign(label=[1, 1, 2, 3]))])
