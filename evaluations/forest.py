"""The forest plot of a profile's claims (figures/forest.{pdf,png}): per claim with a gain of ours
in points (Fig. 2, Table 1, Table 2, the gain at the paper's s or k of a sweep), its paired
differences rescued - baseline as dots (one per seed), their mean with its 95 % interval, and the
published gain (a diamond; none for a sweep row, whose claim is a best value); a linear claim read
at s tuned as in Sec. 5 (its second row) has a square where the row at the paper's s has a dot. Read from the claims
table alone (its ``ours_values`` column), so the figure shows exactly what the table decided."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations.claims import TUNED, TUNED_SOURCE  # noqa: E402
from evaluations.formatting import save_figure  # noqa: E402

SOURCES = ("Fig. 2", "Table 1", "Table 2", "Sec. 5")  # gains in points; the cosine row is on another scale
VERDICT_COLOR = {"reproduced": "tab:green", "contradicted": "tab:red", "smaller than published": "tab:orange"}


def forest_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims the figure draws: run (n >= 1), a numeric gain of ours, a source in points."""
    mean = pd.to_numeric(claims.ours_mean, errors="coerce")
    keep = (claims.ours_n > 0) & mean.notna() & claims.source.astype(str).str.startswith(SOURCES)
    return claims[keep].assign(ours_mean=mean[keep])


def _values(text) -> np.ndarray:
    """The ``ours_values`` cell: differences joined by ";" (a lone one may have been read as a number)."""
    if isinstance(text, str):
        return np.array([float(v) for v in text.split(";") if v])
    return np.array([] if pd.isna(text) else [float(text)])


def with_pending_tuned(claims: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with, after each drawn linear claim, its row at s tuned as in Sec. 5 where that one
    is not run yet (a line that says so: the figure shows both readings of every claim it draws)."""
    pending = claims[(claims.source == TUNED_SOURCE) & (claims.ours_n == 0)].set_index("claim")
    out = []
    for _, r in rows.iterrows():
        out.append(r)
        sibling = str(r.claim) + TUNED
        if r.source != TUNED_SOURCE and sibling in pending.index and sibling not in set(rows.claim):
            out.append(pending.loc[sibling].copy().rename(None).to_frame().T.assign(claim=sibling).iloc[0])
    return pd.DataFrame(out).reset_index(drop=True) if out else rows


def forest_figure(claims: pd.DataFrame, profile: str, out_stem: str | Path) -> None:
    rows = with_pending_tuned(claims, forest_rows(claims).reset_index(drop=True))
    fig, ax = plt.subplots(figsize=(11, 1.8 + 0.5 * max(len(rows), 1)), layout="constrained")
    if rows.empty:
        ax.text(0.5, 0.5, f"no claim of ours has a paired gain in profile {profile}", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        save_figure(fig, out_stem)
        return
    rng = np.random.default_rng(0)  # the dots' vertical jitter only
    for i, r in rows.iterrows():
        y = len(rows) - 1 - i
        if not r.ours_n:  # a tuned row not run yet: its labels only
            continue
        values = _values(r.ours_values)
        ax.scatter(values, y + rng.uniform(-0.15, 0.15, len(values)), s=12, color="0.55", zorder=2,
                   label="paired difference (a seed)" if i == 0 else None)
        color = VERDICT_COLOR.get(r.verdict, "black")
        if pd.notna(r.ours_low):
            ax.plot([r.ours_low, r.ours_high], [y, y], color=color, linewidth=2, zorder=3)
        tuned = str(r.source) == TUNED_SOURCE  # the claim read at s tuned as in Sec. 5: a square
        labels = ax.get_legend_handles_labels()[1]
        label = "ours at s tuned (Sec. 5): mean, 95 % interval" if tuned else "ours at the paper's s: mean, 95 % interval"
        ax.plot(r.ours_mean, y, "s" if tuned else "o", color=color, markersize=6, zorder=4,
                label=label if label not in labels else None)
        published = pd.to_numeric(pd.Series([r.published]), errors="coerce").iloc[0]
        if pd.notna(published) and not str(r.source).startswith("Sec. 5"):
            ax.plot(published, y, "D", color="tab:blue", markersize=6, zorder=5,
                    label="published" if "published" not in ax.get_legend_handles_labels()[1] else None)
    ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(rows)), [f"{c}\n[{run}]" for c, run in zip(rows.claim[::-1], rows.ours_run[::-1])],
                  fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    right = ax.twinx()  # the verdicts, as tick labels on the right
    right.set_ylim(ax.get_ylim())
    right.set_yticks(range(len(rows)), [f"{v}, n = {int(n)}" if n else "not run yet" for v, n in zip(rows.verdict[::-1], rows.ours_n[::-1])],
                     fontsize=7)
    for label, verdict in zip(right.get_yticklabels(), rows.verdict[::-1]):
        label.set_color(VERDICT_COLOR.get(verdict, "black"))
    ax.set_xlabel("rescued − baseline (points), paired by seed")
    ax.set_title(f"Claims of profile {profile}: paired gains, 95 % intervals and the published gains", fontsize=10)
    # outside the axes, below them, in the space the constrained layout keeps for it (never clipped)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncol=3, frameon=False)
    save_figure(fig, out_stem)
