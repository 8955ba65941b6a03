"""Figs. 5-6: a sweep's rescued runs per value of s (Fig. 5) or k (Fig. 6) as paired gains over
the sweep's baseline runs (table, figure).

Every sweep trains its baselines at the sweep's own schedule and seeds (ssl_core.config.sweep_runs),
so each point is read as the paired gain rescued - baseline of the same seed with its 95 % interval
(evaluations.stats), and the baseline itself is the first row, the s = 0 (k = 0) point: gain 0 by
definition, its top-1 beside it. The paper's figures plot top-1; a top-1 curve without its s = 0
point says nothing about whether rescuing helps at any s (issue 39), so the figure's axis is the
gain, with 0 marked, and the value of the main runs (for s: the paper's) marked on the x axis."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations import stats  # noqa: E402
from evaluations.formatting import save_figure  # noqa: E402
from evaluations.results import METHOD_LABEL  # noqa: E402

TABLE_COLUMNS = ["mean", "std", "n_seeds", "collapsed", "gain", "gain_low", "gain_high", "n_pairs"]


def sensitivity_table(ours: pd.DataFrame, param: str, rescued: list[str], baselines: list[str]) -> pd.DataFrame:
    """Per value of ``param`` ("s" or "k"), first the baselines' row (``param`` 0): linear top-1
    mean, std and seeds, whether any seed collapsed (NaN loss or collapsed embedding), and the
    paired gain over the same seeds' baselines (``gain`` [``gain_low``, ``gain_high``], ``n_pairs``;
    the baselines' row: 0 over its seeds, no interval)."""
    top1 = ours[(ours.task == "linear") & (ours.metric == "top1")].set_index("run")["value"]
    collapsed = ours[ours.metric == "collapsed"].set_index("run")["value"]
    meta = ours.drop_duplicates("run").set_index("run")
    base_runs = [r for r in baselines if r in top1.index]
    base = top1.reindex(base_runs).dropna()
    base_by_seed = pd.Series(base.values, index=meta.loc[base.index, "seed"].values) if len(base) else pd.Series(dtype=float)
    base_by_seed = base_by_seed.groupby(level=0).mean()
    rows = [{param: 0, "mean": base.mean(), "std": base.std(), "n_seeds": len(base),
             "collapsed": bool((collapsed.reindex(base_runs) > 0).any()), "gain": 0.0 if len(base) else math.nan,
             "gain_low": math.nan, "gain_high": math.nan, "n_pairs": len(base)}]
    for value, runs in meta.loc[[r for r in rescued if r in meta.index]].groupby(param).groups.items():
        vals = top1.reindex(runs).dropna()
        seeds = meta.loc[vals.index, "seed"].values
        diff = (pd.Series(vals.values, index=seeds).groupby(level=0).mean() - base_by_seed).dropna()
        iv = stats.interval(diff)
        rows.append({param: value, "mean": vals.mean(), "std": vals.std(), "n_seeds": len(vals),
                     "collapsed": bool((collapsed.reindex(runs) > 0).any()), "gain": iv.mean, "gain_low": iv.low,
                     "gain_high": iv.high, "n_pairs": iv.n})
    table = pd.DataFrame(rows, columns=[param, *TABLE_COLUMNS]).sort_values(param, kind="stable")
    table.attrs["baseline"] = (base.mean(), base.std(), len(base))
    return table.reset_index(drop=True)


def _position(values: list[float], at: float) -> float | None:
    """Where ``at`` falls on the evenly spaced axis of ``values`` (0 first, then the swept values):
    its index, else log-interpolated between its neighbours among the swept values; None outside."""
    if at in values:
        return float(values.index(at))
    swept = [(i, v) for i, v in enumerate(values) if v > 0]
    for (i, lo), (j, hi) in zip(swept, swept[1:]):
        if lo < at < hi:
            return i + (j - i) * (math.log(at) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return None


def sensitivity_figure(table: pd.DataFrame, param: str, method: str, fixed: str, profile: str,
                       out_stem: str | Path, main: float | None = None) -> None:
    """Figs. 5/6 on the gain axis: per value, the paired gain rescued - baseline (mean and 95 %
    interval over the seed pairs, each pair a grey dot where the table holds them), the s = 0 point
    (the baselines, gain 0) first, values evenly spaced as in the paper, 0 as a dashed line,
    collapsed points shaded grey and ``main`` (the main runs' value; for s, the paper's) marked."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    x = np.arange(len(table))
    for i, r in table.iterrows():
        if r.collapsed:
            ax.axvspan(i - 0.5, i + 0.5, color="0.85", zorder=0, label="collapse" if i == table.collapsed.idxmax() else None)
    name = METHOD_LABEL.get(method, method)
    ax.axhline(0, color="tab:red", linestyle="--", linewidth=1, label=f"{name} baseline ({param} = 0)")
    swept = table[param] > 0
    low = (table.gain - table.gain_low).where(table.gain_low.notna(), 0)
    high = (table.gain_high - table.gain).where(table.gain_high.notna(), 0)
    ax.errorbar(x[swept], table.gain[swept], yerr=[low[swept], high[swept]], marker="^", color="tab:orange",
                capsize=3, linestyle="-", label=f"Ours({name}) − baseline, 95 % CI")
    if not swept.all():
        ax.plot(x[~swept], table.gain[~swept], "o", color="tab:red", markerfacecolor="white", zorder=3)
    at = _position([float(v) for v in table[param]], float(main)) if main is not None else None
    if at is not None:
        what = "the paper's s" if param == "s" else "main runs' k"
        ax.axvline(at, color="tab:blue", linestyle=":", linewidth=1.2, label=f"{what} ({main:g})")
    ax.set_xticks(x, [f"{v:g}" for v in table[param]])
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.set_xlabel(f"{param} ({fixed})")
    ax.set_ylabel("paired gain in linear top-1 (points)")
    ax.set_title(f"{name}: sensitivity to {param} ({profile})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")  # where it hides the fewest points
    fig.tight_layout()
    save_figure(fig, out_stem)
