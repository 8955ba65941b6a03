"""Figs. 5-6: linear top-1 of a sweep's rescued runs per value of s (Fig. 5) or k (Fig. 6) beside
its baseline runs (table, figure)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations.formatting import save_figure  # noqa: E402
from evaluations.results import METHOD_LABEL  # noqa: E402


def sensitivity_table(ours: pd.DataFrame, param: str, rescued: list[str], baselines: list[str]) -> pd.DataFrame:
    """Per value of ``param`` ("s" or "k"): linear top-1 mean, std, seeds, and whether any seed
    collapsed (NaN loss or collapsed embedding), over the sweep's rescued runs."""
    top1 = ours[(ours.task == "linear") & (ours.metric == "top1")].set_index("run")["value"]
    collapsed = ours[ours.metric == "collapsed"].set_index("run")["value"]
    meta = ours.drop_duplicates("run").set_index("run")
    rows = []
    for value, runs in meta.loc[[r for r in rescued if r in meta.index]].groupby(param).groups.items():
        vals = top1.reindex(runs).dropna()
        rows.append({param: value, "mean": vals.mean(), "std": vals.std(), "n_seeds": len(vals),
                     "collapsed": bool((collapsed.reindex(runs) > 0).any())})
    base = top1.reindex([r for r in baselines if r in top1.index]).dropna()
    table = pd.DataFrame(rows, columns=[param, "mean", "std", "n_seeds", "collapsed"]).sort_values(param)
    table.attrs["baseline"] = (base.mean(), base.std(), len(base))
    return table.reset_index(drop=True)


def sensitivity_figure(table: pd.DataFrame, param: str, method: str, fixed: str, profile: str,
                       out_stem: str | Path) -> None:
    """Figs. 5/6: top-1 (mean ± std over seeds) per value, values evenly spaced as in the paper,
    the baseline as a dashed line (its seeds' std as a band), collapsed points shaded grey."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    x = list(range(len(table)))
    for i, r in table.iterrows():
        if r.collapsed:
            ax.axvspan(i - 0.5, i + 0.5, color="0.85", zorder=0, label="collapse" if i == table.collapsed.idxmax() else None)
    ax.errorbar(x, table["mean"], yerr=table["std"].fillna(0), marker="^", color="tab:orange", capsize=3,
                label=f"Ours({METHOD_LABEL.get(method, method)})")
    mean, std, n = table.attrs.get("baseline", (float("nan"), float("nan"), 0))
    if n:
        ax.axhline(mean, color="tab:red", linestyle="--", label=f"{METHOD_LABEL.get(method, method)} baseline")
        if pd.notna(std):
            ax.axhspan(mean - std, mean + std, color="tab:red", alpha=0.1)
    ax.set_xticks(x, [f"{v:g}" for v in table[param]])
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.set_xlabel(f"{param} ({fixed})")
    ax.set_ylabel("linear top-1 (%)")
    ax.set_title(f"{METHOD_LABEL.get(method, method)}: sensitivity to {param} ({profile})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")  # where it hides the fewest points
    fig.tight_layout()
    save_figure(fig, out_stem)
