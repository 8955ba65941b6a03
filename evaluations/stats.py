"""Means over seeds and the paired difference rescued - baseline, each with its 95 % interval.

A baseline and a rescued run with the same seed start from the same weights and see the same
batches (tests/ssl_core/test_paired_seeds.py), so the difference is taken per seed and the
interval is over those seed pairs: Student t with n - 1 degrees of freedom below
``BOOTSTRAP_MIN_N`` (30) pairs, a percentile bootstrap from there on. With few pairs the percentile
bootstrap's interval is too narrow (it resamples only the n values seen), while the t interval is
exact for normally distributed differences; from 30 pairs on the bootstrap's coverage is close to
nominal and it drops the normality assumption. One pair (n = 1) has no interval: it is NaN, never "significant".

Power (``power``, ``detectable_effect``, ``pairs_for_power``, ``pairs_for_half_width``) is that of
the two-sided paired t test at alpha 0.05 from the SD of the paired differences: the test
statistic follows a noncentral t with n - 1 degrees of freedom and noncentrality
effect / (sd / sqrt(n)). The probability of improvement P(rescued > baseline) is rliable's
(Agarwal et al., 2021, ``rliable.metrics.probability_of_improvement``): the Mann-Whitney U of the
rescued over the baseline runs divided by their product of counts (a tie counts one half), with a
percentile bootstrap that resamples each variant's runs independently
(rliable's ``StratifiedIndependentBootstrap``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

CONFIDENCE = 0.95
BOOTSTRAP_MIN_N = 30
BOOTSTRAP_RESAMPLES = 10_000
ALPHA = 1 - CONFIDENCE  # of the paired t test the power is computed for (two-sided)
POWER = 0.8  # the power a "detectable" effect is detected with
MAX_PAIRS = 100_000  # pairs_for_* searches no further (NaN beyond)
KEYS = ["method", "arch", "task", "dataset", "metric"]  # one comparison per key
PAIR = ("baseline", "rescued")


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values and its two-sided interval [low, high] (NaN where n < 2)."""

    mean: float
    low: float
    high: float
    n: int
    method: str  # "t", "bootstrap", or "none" (n < 2)

    @property
    def half_width(self) -> float:
        """The smallest difference the run can resolve: half the interval's width."""
        return (self.high - self.low) / 2

    @property
    def sign(self) -> int:
        """+1 / -1 where the interval excludes 0 above / below it, else 0 (also for n < 2)."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0


def interval(values, confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` (NaN dropped) with its ``confidence`` interval."""
    x = np.asarray(pd.Series(values, dtype=float).dropna())
    n, nan = len(x), float("nan")
    if n == 0:
        return Interval(nan, nan, nan, 0, "none")
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, nan, nan, n, "none")
    if n >= BOOTSTRAP_MIN_N:
        rng = np.random.default_rng(0)  # fixed: the same table on every rerun
        means = x[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return Interval(mean, float(low), float(high), n, "bootstrap")
    return t_interval(mean, float(x.std(ddof=1)), n, confidence)


def t_interval(mean: float, sd: float, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Student t interval of a mean from its sample's std (ddof 1) and size ``n`` >= 2."""
    half = float(sps.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, "t")


def _row(iv: Interval) -> dict:
    return {"mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high, "half_width": iv.half_width, "n": iv.n,
            "ci_method": iv.method}


def variant_summary(df: pd.DataFrame, keys: list[str] = KEYS) -> pd.DataFrame:
    """Per ``keys`` + variant: mean, std over seeds, n and the 95 % interval of the mean."""
    rows = []
    for key, group in df.groupby([*keys, "variant"], sort=False, dropna=False):
        values = group["value"]
        rows.append({**dict(zip([*keys, "variant"], key)), "std": values.std(), **_row(interval(values))})
    return pd.DataFrame(rows, columns=[*keys, "variant", "mean", "std", "ci_low", "ci_high", "half_width", "n",
                                       "ci_method"])


def paired_values(df: pd.DataFrame, keys: list[str] = KEYS):
    """Per ``keys``: (the key as a dict, a frame indexed by seed with columns baseline and rescued,
    seeds with both only). Keys without both variants are left out."""
    pairs = df[df.variant.isin(PAIR)]
    for key, group in pairs.groupby(keys, sort=False, dropna=False):
        by_seed = group.pivot_table(index="seed", columns="variant", values="value", aggfunc="mean")
        if set(PAIR) <= set(by_seed.columns):
            yield dict(zip(keys, key)), by_seed[list(PAIR)].dropna()


def paired_differences(df: pd.DataFrame, keys: list[str] = KEYS, detail: bool = False) -> pd.DataFrame:
    """Per ``keys``: rescued - baseline paired by seed (seeds with both only), its mean, 95 %
    interval and n. Keys without both variants are left out. ``detail``: also the SD of the
    differences, the differences themselves (``values``, by seed) and the probability of
    improvement with its bootstrap interval (``poi``, ``poi_low``, ``poi_high``)."""
    rows = []
    for key, by_seed in paired_values(df, keys):
        diff = by_seed["rescued"] - by_seed["baseline"]
        row = {**key, **_row(interval(diff))}
        if detail:
            poi = improvement_interval(by_seed["rescued"], by_seed["baseline"])
            row.update(sd=float(diff.std(ddof=1)) if len(diff) > 1 else float("nan"), values=tuple(diff),
                       poi=poi.mean, poi_low=poi.low, poi_high=poi.high)
        rows.append(row)
    extra = ["sd", "values", "poi", "poi_low", "poi_high"] if detail else []
    return pd.DataFrame(rows, columns=[*keys, "mean", "ci_low", "ci_high", "half_width", "n", "ci_method", *extra])


def better_variant(low: float, high: float) -> str | None:
    """The variant a paired interval of rescued - baseline shows to be better, if any."""
    return "rescued" if low > 0 else "baseline" if high < 0 else None


UNDERPOWERED = " (underpowered)"


def verdict(published: float, iv: Interval, detectable: float | None = None) -> str:
    """A claim's verdict from our interval of rescued - baseline:

    - `not run`: n = 0;
    - `contradicted`: the interval excludes 0 on the side opposite the published gain (either side
      for a published tie, 0);
    - `smaller than published`: it excludes the published gain on the side of 0 (it may contain 0);
    - `reproduced`: it excludes 0 on the published side and contains the published gain or lies
      beyond it;
    - `inconclusive`: it contains both 0 and the published gain, or n = 1. ``(underpowered)`` is
      added where the effect the run detects with 80 % power (``detectable``) exceeds the published
      gain, or where n = 1: such a run could not have decided.
    """
    if iv.n == 0:
        return "not run"
    sign = int(np.sign(published))
    if iv.sign != 0 and iv.sign != sign:
        return "contradicted"
    if iv.n >= 2 and sign != 0 and (iv.high < published if sign > 0 else iv.low > published):
        return "smaller than published"
    if iv.sign != 0:
        return "reproduced"
    weak = sign != 0 and (iv.n < 2 or (detectable is not None and not detectable <= abs(published)))
    return "inconclusive" + (UNDERPOWERED if weak else "")


def power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t test at level ``alpha`` to detect a true mean difference
    ``effect`` from ``n`` pairs whose differences have SD ``sd`` (NaN for n < 2 or sd <= 0)."""
    if n < 2 or not sd > 0:
        return float("nan")
    df, nc = n - 1, effect / (sd / math.sqrt(n))
    crit = sps.t.ppf(1 - alpha / 2, df)
    value = float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))
    if value != value:  # scipy's nct fails far out (large df and nc): the normal limit, exact there
        value = float(sps.norm.sf(crit - nc) + sps.norm.cdf(-crit - nc))
    return value


def detectable_effect(sd: float, n: int, target: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest true difference ``n`` pairs detect with power ``target`` (NaN for n < 2)."""
    if n < 2 or not sd > 0:
        return float("nan")
    high = 4 * sd / math.sqrt(n)
    while power(high, sd, n, alpha) < target:
        high *= 2
    return float(optimize.brentq(lambda d: power(d, sd, n, alpha) - target, 0.0, high, xtol=1e-10))


def _smallest_n(ok) -> float:
    """The smallest n >= 2 with ok(n) for a monotone ok (NaN beyond MAX_PAIRS)."""
    high = 2
    while not ok(high):
        if high >= MAX_PAIRS:
            return float("nan")
        high = min(2 * high, MAX_PAIRS)
    low = max(2, high // 2)
    if ok(low):
        return low
    while high - low > 1:  # ok(high), not ok(low)
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def pairs_for_power(effect: float, sd: float, target: float = POWER, alpha: float = ALPHA) -> float:
    """The pairs needed to detect a true difference ``effect`` with power ``target``, given the
    SD ``sd`` of the differences (NaN where effect is 0 or sd unknown)."""
    if effect == 0 or not sd > 0:
        return float("nan")
    return _smallest_n(lambda n: power(effect, sd, n, alpha) >= target)


def pairs_for_half_width(half_width: float, sd: float, confidence: float = CONFIDENCE) -> float:
    """The pairs whose t interval has a half-width of at most ``half_width``, given the SD ``sd``."""
    if not sd > 0 or not half_width > 0:
        return float("nan")
    return _smallest_n(lambda n: sps.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n) <= half_width)


def probability_of_improvement(x, y) -> float:
    """rliable's P(X > Y) on one task: the share of the (x, y) pairs of runs with x > y, a tie
    counting one half (the Mann-Whitney U of x over y divided by len(x) * len(y))."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(((x[:, None] > y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum()) / (len(x) * len(y)))


def improvement_interval(x, y, confidence: float = CONFIDENCE, reps: int = BOOTSTRAP_RESAMPLES,
                         seed: int = 0) -> Interval:
    """P(X > Y) with rliable's percentile bootstrap interval: each of x and y resampled
    independently with replacement (``StratifiedIndependentBootstrap`` on one task); NaN bounds
    where either has fewer than 2 runs. ``mean`` holds the point estimate."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    nan = float("nan")
    if len(x) == 0 or len(y) == 0:
        return Interval(nan, nan, nan, 0, "none")
    point = probability_of_improvement(x, y)
    if min(len(x), len(y)) < 2:
        return Interval(point, nan, nan, min(len(x), len(y)), "none")
    rng = np.random.default_rng(seed)  # fixed: the same table on every rerun
    stats_ = np.empty(reps)
    for start in range(0, reps, 1000):  # in chunks: reps * len(x) * len(y) comparisons
        m = min(1000, reps - start)
        bx = x[rng.integers(0, len(x), size=(m, len(x)))][:, :, None]
        by = y[rng.integers(0, len(y), size=(m, len(y)))][:, None, :]
        stats_[start:start + m] = ((bx > by).sum(axis=(1, 2)) + 0.5 * (bx == by).sum(axis=(1, 2))) / (len(x) * len(y))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats_, [tail, 100 - tail])
    return Interval(point, float(low), float(high), min(len(x), len(y)), "bootstrap")


def gain_trend(diffs: pd.DataFrame, at: float, log2: bool = False) -> tuple[Interval, Interval]:
    """The paired gain as a function of a swept value: ``diffs`` holds rescued - baseline indexed by
    seed, one column per swept value. Per seed, a least-squares line through its gains (against
    log2 of the value with ``log2``, as for k); returned: the slope (per unit, or per doubling) and
    the gain at ``at`` (the seed's measured gain where ``at`` was swept, else its line's value
    there, inside the swept range only), each with its interval over the seeds."""
    cols = sorted(diffs.columns)
    xs = np.log2(np.asarray(cols, dtype=float)) if log2 else np.asarray(cols, dtype=float)
    slopes, gains = [], []
    for _, row in diffs[cols].iterrows():
        ok = row.notna().to_numpy()
        if ok.sum() < 2:
            continue
        slope, intercept = np.polyfit(xs[ok], row.to_numpy(dtype=float)[ok], 1)
        slopes.append(slope)
        if at in cols and not np.isnan(row[at]):
            gains.append(float(row[at]))
        elif min(cols) <= at <= max(cols):
            gains.append(float(intercept + slope * (math.log2(at) if log2 else at)))
    return interval(slopes), interval(gains)


NOT_GAINS = ("model", "pretrain")  # tasks of metrics.csv that are run properties, not evaluations


def power_table(df: pd.DataFrame, effect: float = 1.0, half_width: float = 1.0, keys: list[str] = KEYS) -> pd.DataFrame:
    """Per comparison of an evaluation (``keys``; the tasks in NOT_GAINS left out): the paired
    difference's mean, 95 % interval, SD and n, the power to detect a true gain ``effect``, the
    effect detected with 80 % power, the pairs needed for a half-width of ``half_width`` and for 80 %
    power at ``effect``, and the probability of improvement with its bootstrap interval."""
    df = df[~df.task.isin(NOT_GAINS)]
    rescued = df[df.variant == "rescued"]
    settings = rescued[["s", "k"]].drop_duplicates() if {"s", "k"} <= set(df.columns) else pd.DataFrame()
    if len(settings) > 1:  # a sweep: each (s, k) of the rescued runs against the same seeds' baselines
        parts = []
        for s_, k_ in settings.itertuples(index=False):
            mine = rescued[((rescued.s == s_) | (pd.isna(s_) & rescued.s.isna()))
                           & ((rescued.k == k_) | (pd.isna(k_) & rescued.k.isna()))]
            part = paired_differences(pd.concat([df[df.variant == "baseline"], mine]), keys, detail=True)
            parts.append(part.assign(s=s_, k=k_))
        table = pd.concat(parts, ignore_index=True).drop(columns="values")
    else:
        table = paired_differences(df, keys, detail=True).drop(columns="values")
    table["power"] = [power(effect, sd, n) for sd, n in zip(table.sd, table.n)]
    table["detectable"] = [detectable_effect(sd, n) for sd, n in zip(table.sd, table.n)]
    table["pairs_for_half_width"] = [pairs_for_half_width(half_width, sd) for sd in table.sd]
    table["pairs_for_effect"] = [pairs_for_power(effect, sd) for sd in table.sd]
    return table


def format_power_table(table: pd.DataFrame, effect: float, half_width: float) -> str:
    """``power_table`` as aligned text, one comparison a line."""
    def num(x, fmt):
        return "--" if pd.isna(x) else format(x, fmt)

    rows = [{"comparison": " ".join(str(r[k]) for k in KEYS if k in r and str(r[k]) not in ("", "nan"))
             + "".join(f" {p}={r[p]:g}" for p in ("s", "k") if p in r and pd.notna(r[p])),
             "n": int(r["n"]), "mean [95 % CI]": f"{num(r['mean'], '+.2f')} [{num(r['ci_low'], '+.2f')}, "
             f"{num(r['ci_high'], '+.2f')}]", "SD": num(r["sd"], ".2f"), f"power at {effect:g}": num(r["power"], ".2f"),
             "detects (80 %)": num(r["detectable"], ".2f"), f"pairs for +-{half_width:g}": num(r["pairs_for_half_width"], ".0f"),
             f"pairs for {effect:g}": num(r["pairs_for_effect"], ".0f"),
             "P(improve) [95 % CI]": f"{num(r['poi'], '.2f')} [{num(r['poi_low'], '.2f')}, {num(r['poi_high'], '.2f')}]"}
            for _, r in table.iterrows()]
    return (f"paired rescued - baseline per comparison; power: two-sided paired t test, alpha {ALPHA:g}, "
            f"80 % power\n" + pd.DataFrame(rows).to_string(index=False))


def val_noise(pairs) -> dict:
    """What the finite val set adds to the paired differences, from per-image predictions (the
    probe's ``eval/linear/<run>.predictions.csv.gz``): ``pairs`` holds, per seed, the (baseline,
    rescued) frames with columns index, label, predicted. Per seed, D_i = correct_rescued -
    correct_baseline on image i; the variance of its mean over the N images is var(D) / N (in
    points^2: x 100^2). Returned: that variance averaged over the seeds (``val_var``) and the share
    of images the two runs classify differently (``disagree``)."""
    variances, disagree = [], []
    for base, resc in pairs:
        both = base.merge(resc, on="index", suffixes=("_b", "_r"))
        if len(both) < 2 or not (both.label_b == both.label_r).all():
            raise ValueError("baseline and rescued predictions are not of the same val images")
        d = (both.predicted_r == both.label_r).astype(float) - (both.predicted_b == both.label_b).astype(float)
        variances.append(100.0 ** 2 * float(d.var(ddof=1)) / len(d))
        disagree.append(float((both.predicted_r != both.predicted_b).mean()))
    nan = float("nan")
    return {"val_var": float(np.mean(variances)) if variances else nan,
            "disagree": float(np.mean(disagree)) if disagree else nan}


def val_noise_report(metrics: pd.DataFrame, table: pd.DataFrame, folder: str | Path) -> str:
    """The linear probe's comparisons: the share of the paired variance that the val set's finite
    size explains, from the per-image predictions where both runs of a seed saved them."""
    lines = ["val-set noise (linear probe; per-image predictions): comparison, seeds with predictions, "
             "disagreement, val-set variance / paired variance"]
    for _, r in table[table.task == "linear"].iterrows():
        rows = metrics[(metrics.method == r["method"]) & (metrics.arch == r["arch"]) & (metrics.task == "linear")
                       & (metrics.metric == r["metric"])]
        if "s" in r and pd.notna(r["s"]):
            rows = rows[(rows.variant == "baseline") | ((rows.s == r["s"]) & (rows.k == r["k"]))]
        runs = rows.groupby(["seed", "variant"]).run.first().unstack()
        pairs = []
        for seed, names in runs.iterrows():
            paths = [Path(folder) / f"{names.get(v)}.predictions.csv.gz" for v in PAIR]
            if all(isinstance(names.get(v), str) for v in PAIR) and all(p.is_file() for p in paths):
                pairs.append(tuple(pd.read_csv(p) for p in paths))
        name = f"{r['method']} {r['arch']} {r['metric']}" + (f" s={r['s']:g} k={r['k']:g}" if "s" in r and pd.notna(r["s"]) else "")
        if not pairs:
            lines.append(f"{name}: no predictions in {folder}")
            continue
        noise = val_noise(pairs)
        share = noise["val_var"] / r["sd"] ** 2 if r["sd"] > 0 else float("nan")
        lines.append(f"{name}: {len(pairs)} seeds, {noise['disagree']:.0%} of the images, {share:.0%} "
                     f"(val-set SD of a paired difference {noise['val_var'] ** 0.5:.2f} points, paired SD {r['sd']:.2f})")
    return "\n".join(lines)
