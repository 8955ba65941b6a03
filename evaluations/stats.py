"""Means over seeds and the paired difference rescued - baseline, each with its 95 % interval.

A baseline and a rescued run with the same seed start from the same weights and see the same
batches (tests/ssl_core/test_paired_seeds.py), so the difference is taken per seed and the
interval is over those seed pairs: Student t with n - 1 degrees of freedom below
``BOOTSTRAP_MIN_N`` (30) pairs, a percentile bootstrap from there on. With few pairs the percentile
bootstrap's interval is too narrow (it resamples only the n values seen), while the t interval is
exact for normally distributed differences; from 30 pairs on the bootstrap's coverage is close to
nominal and it drops the normality assumption. One pair (n = 1) has no interval: it is NaN, never "significant".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

CONFIDENCE = 0.95
BOOTSTRAP_MIN_N = 30
BOOTSTRAP_RESAMPLES = 10_000
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


def paired_differences(df: pd.DataFrame, keys: list[str] = KEYS) -> pd.DataFrame:
    """Per ``keys``: rescued - baseline paired by seed (seeds with both only), its mean, 95 %
    interval and n. Keys without both variants are left out."""
    rows = []
    pairs = df[df.variant.isin(PAIR)]
    for key, group in pairs.groupby(keys, sort=False, dropna=False):
        by_seed = group.pivot_table(index="seed", columns="variant", values="value", aggfunc="mean")
        if not set(PAIR) <= set(by_seed.columns):
            continue
        diff = (by_seed["rescued"] - by_seed["baseline"]).dropna()
        rows.append({**dict(zip(keys, key)), **_row(interval(diff))})
    return pd.DataFrame(rows, columns=[*keys, "mean", "ci_low", "ci_high", "half_width", "n", "ci_method"])


def better_variant(low: float, high: float) -> str | None:
    """The variant a paired interval of rescued - baseline shows to be better, if any."""
    return "rescued" if low > 0 else "baseline" if high < 0 else None


def verdict(published: float, iv: Interval) -> str:
    """A claim's verdict from our interval: `reproduced` (it excludes 0 on the published side),
    `contradicted` (on the other side), `inconclusive` (it contains 0, or n = 1), `not run` (n = 0).
    A published difference of 0 (a tie) can only be contradicted or stay inconclusive."""
    if iv.n == 0:
        return "not run"
    if iv.sign == 0:
        return "inconclusive"
    return "reproduced" if iv.sign == np.sign(published) else "contradicted"
