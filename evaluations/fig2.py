"""Fig. 2: linear top-1 of the main runs beside the published one (table, LaTeX) and against the
backbone's parameters (figure), with the floor (random init) and ceiling (supervised) of each
architecture."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations import stats  # noqa: E402
from evaluations.formatting import (better_of_pair, format_cell, gain_columns, save_figure,  # noqa: E402
                                    significant, tex_escape)
from evaluations.results import (ARCH_LABEL, BEYOND, CEILING, FLOOR, LEVEL_STATUS, main_runs, ours_for,  # noqa: E402
                                 row_label)
from ssl_core.methods import method_names  # noqa: E402


def _linear_top1(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df.task == "linear") & (df.metric == "top1")]


def fig2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Fig. 2's table: every published row with our linear top-1 of the main runs beside it (mean,
    std, n over seeds, ``ours_ci`` the half-width of the mean's 95 % interval) and the paired gain
    rescued - baseline of that method and architecture (``gain``, ``gain_low``/``gain_high``, n).
    Ours is matched on (method, variant, arch) by :func:`evaluations.results.ours_for`; a
    scaled-down profile has no paper architecture, so there ours is its stand-in of the same family
    (ResNet / ViT) and no delta is computed. Then the
    rows of our methods the paper does not have (status ``beyond the paper``), and our floor (random
    init) and ceiling (supervised) rows, without a published value."""
    pub = _linear_top1(paper)
    pub_std = paper[(paper.task == "linear") & (paper.metric == "top1_std")].set_index("run")["value"]
    main = _linear_top1(main_runs(ours))
    mine = stats.variant_summary(main, keys=["method", "arch"])
    gains = stats.paired_differences(main, keys=["method", "arch"]).set_index(["method", "arch"])
    flags = main_runs(ours)
    flags = flags[flags.metric == "collapsed"]
    collapsed = (flags.value > 0).groupby([flags.method, flags.arch, flags.variant]).sum()
    nan = float("nan")
    rows = []
    for r in pub.itertuples():
        cand = ours_for(mine, r.method, r.arch, r.variant)
        base = {"method": r.method, "variant": r.variant, "arch": r.arch, "published_top1": r.value,
                "published_std": pub_std.get(r.run, nan)}
        if cand.empty:
            rows.append({**base, "ours_arch": "", "ours_top1": nan, "ours_std": nan, "ours_ci": nan,
                         "n_seeds": 0, "delta": nan, **gain_columns(gains, None),
                         "status": f"not run in profile {profile}"})
        for c in cand.itertuples():
            rows.append({**base, "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                         "n_seeds": int(c.n), "delta": c.mean - r.value if c.arch == r.arch else nan,
                         **gain_columns(gains, (c.method, c.arch)),
                         "status": "same architecture" if c.arch == r.arch else "scaled-down stand-in"})
    for c in mine[~mine.method.isin(set(pub.method)) & mine.variant.isin(stats.PAIR)].itertuples():
        rows.append({"method": c.method, "variant": c.variant, "arch": "", "published_top1": nan, "published_std": nan,
                     "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                     "n_seeds": int(c.n), "delta": nan, **gain_columns(gains, (c.method, c.arch)), "status": BEYOND})
    for c in mine[mine.variant.isin(LEVEL_STATUS)].itertuples():
        rows.append({"method": c.method, "variant": c.variant, "arch": "", "published_top1": nan, "published_std": nan,
                     "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                     "n_seeds": int(c.n), "delta": nan, **gain_columns(gains, None), "status": LEVEL_STATUS[c.variant]})
    table = pd.DataFrame(rows)
    # seeds of our run that ended flagged collapsed (NaN loss or embedding std; the probe still reads them)
    table["n_collapsed"] = [int(collapsed.get((r.method, r.ours_arch, r.variant), 0)) for r in table.itertuples()]
    return table


def _fmt_gain(r) -> str:
    """The paired gain rescued - baseline of a row: "+0.9 ± 1.3 (n = 5)", "+0.9 (n = 1)", "--"."""
    if pd.isna(r.gain):
        return "--"
    half = (r.gain_high - r.gain_low) / 2
    return f"{r.gain:+.1f}" + (rf" $\pm$ {half:.1f}" if pd.notna(half) else "") + f" (n = {r.gain_n})"


def fig2_latex(table: pd.DataFrame, profile: str) -> str:
    """Published (the paper's bold: better of each pair) beside ours (mean ± 95 % interval; bold
    only where the paired interval of rescued - baseline excludes 0), the paired gain on each
    rescued row, and Δ = ours - published on the paper's architecture."""
    table = table.reset_index(drop=True)
    bold_pub = better_of_pair(table, "published_top1", ["method", "arch"])
    bold_ours = significant(table)
    lines = [r"\begin{tabular}{lllrlrrr}", r"\toprule",
             rf"Method & Arch. & Variant & Published & Ours arch. & Ours ({tex_escape(profile)}) & Rescued $-$ baseline & $\Delta$ \\",
             r"\midrule"]
    for i, r in table.iterrows():
        lines.append(" & ".join([
            row_label(r.method, r.variant), ARCH_LABEL.get(r.arch, r.arch) or "--", tex_escape(r.variant),
            format_cell(r.published_top1, r.published_std, bold_pub[i]),
            ARCH_LABEL.get(r.ours_arch, r.ours_arch) or "not run",
            format_cell(r.ours_top1, r.ours_ci, bold_ours[i], n=r.n_seeds) + (r"$^\dagger$" if r.n_collapsed else ""),
            _fmt_gain(r) if r.variant == "rescued" else "",
            "--" if pd.isna(r.delta) else f"{r.delta:+.1f}"]) + r" \\")
    lines.append(r"\bottomrule")
    for r in table[table.n_collapsed > 0].itertuples():
        lines.append(rf"\multicolumn{{8}}{{l}}{{$^\dagger$ {row_label(r.method, r.variant)}: {r.n_collapsed} of "
                     rf"{r.n_seeds} seeds ended flagged collapsed (NaN loss, or embedding std below "
                     r"$0.1/\sqrt{D}$); the probe reads its backbone.} \\")
    lines += [r"\end{tabular}", ""]
    return "\n".join(lines)


def _fig2_points(df: pd.DataFrame, published: bool) -> pd.DataFrame:
    """One point per (method, arch, variant): linear top-1 mean, its error bar (published: the
    printed std; ours: the 95 % interval's half-width) and the backbone's parameters."""
    top1 = stats.variant_summary(_linear_top1(df), keys=["method", "arch"])
    if published:
        std = df[df.metric == "top1_std"].groupby(["method", "arch", "variant"])["value"].first()
        top1["err"] = [std.get((r.method, r.arch, r.variant), float("nan")) for r in top1.itertuples()]
    else:
        top1["err"] = top1["half_width"]
    params = df[df.metric == "params_M"].groupby(["method", "arch", "variant"])["value"].first()
    top1["params"] = [params.get((r.method, r.arch, r.variant), float("nan")) for r in top1.itertuples()]
    return top1.dropna(subset=["params", "mean"])


LEVEL_STYLE = {FLOOR: dict(color="0.4", linestyle="--"), CEILING: dict(color="tab:green", linestyle="-.")}


def fig2_figure(ours: pd.DataFrame, paper: pd.DataFrame, profile: str, out_stem: str | Path) -> None:
    """Fig. 2 (left): linear top-1 against backbone parameters; published beside this profile's main
    runs (error bars: the 95 % interval of the mean over seeds), with each architecture's floor
    (random init, dashed) and ceiling (supervised, dash-dot) as short levels at its size."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    # A fixed layout before the labels are placed: they are spaced in display coordinates.
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.2, top=0.92, wspace=0.18)
    panels = ((axes[0], paper, True, "published (paper Fig. 2)"),
              (axes[1], main_runs(ours), False, f"this suite, profile '{profile}'"))
    for ax, df, published, title in panels:
        points = _fig2_points(df, published)
        levels = points[points.variant.isin(LEVEL_STYLE)]
        points = points[~points.variant.isin(LEVEL_STYLE)]
        for r in points.itertuples():
            main = r.method in method_names()  # the suite's methods; the paper's others in grey
            style = dict(marker="^", color="tab:orange") if r.variant == "rescued" else \
                dict(marker="o", color="tab:blue" if main else "grey")
            ax.errorbar(r.params, r.mean, yerr=0 if pd.isna(r.err) else r.err, linestyle="none", markersize=8,
                        capsize=3, **style)
        for r in levels.itertuples():
            ax.hlines(r.mean, r.params / 1.3, r.params * 1.3, lw=1.5, **LEVEL_STYLE[r.variant])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if not points.empty:
            lo, hi = pd.concat([points, levels])["params"].agg(["min", "max"])
            ax.set_xlim(lo / 1.6, hi * 6.0)  # room on the right for the labels
        ax.set_xlabel("backbone parameters (M, log scale)")
        ax.set_ylabel("linear top-1 (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.12 * (high - low))  # headroom for labels moved up
        _label_points(ax, points)
    handles = [plt.Line2D([], [], marker="o", color="tab:blue", linestyle="none", label="SSL baseline"),
               plt.Line2D([], [], marker="^", color="tab:orange", linestyle="none", label="rescued (ours)"),
               plt.Line2D([], [], marker="o", color="grey", linestyle="none", label="other SOTA"),
               plt.Line2D([], [], label="floor: random init", **LEVEL_STYLE[FLOOR]),
               plt.Line2D([], [], label="ceiling: supervised", **LEVEL_STYLE[CEILING])]
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False)
    save_figure(fig, out_stem)


def _label_points(ax: plt.Axes, points: pd.DataFrame) -> None:
    """Name each point to its right, bottom to top; a label that would overlap a marker or a label
    placed before (their rendered boxes, in display coordinates) moves up just above it, with a thin line back to
    its point. Call once the axes' limits and the figure's layout are final."""
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    marker = 6  # px, about the radius of a marker of size 8
    placed = [Bbox.from_bounds(x - marker, y - marker, 2 * marker, 2 * marker)  # labels keep off the markers
              for x, y in ax.transData.transform(points[["params", "mean"]].to_numpy(dtype=float))]
    for r in points.sort_values(["mean", "params"]).itertuples():
        x, y = ax.transData.transform((r.params, r.mean))
        x += 14  # px right of the marker
        text = ax.annotate(f"{row_label(r.method, r.variant)} {ARCH_LABEL.get(r.arch, r.arch)}", (r.params, r.mean),
                           xytext=tuple(to_data.transform((x, y))), fontsize=7, va="center", annotation_clip=False)
        while True:
            box = text.get_window_extent(renderer)
            hit = [b for b in placed if b.overlaps(box)]
            if not hit:
                break
            y = max(b.y1 for b in hit) + box.height / 2 + 1
            text.set_position(tuple(to_data.transform((x, y))))
        if y != ax.transData.transform((r.params, r.mean))[1]:
            ax.annotate("", (r.params, r.mean), xytext=tuple(to_data.transform((x, y))),
                        arrowprops=dict(arrowstyle="-", lw=0.4, color="0.5"), annotation_clip=False)
        placed.append(box)
