"""Table 1: linear transfer, the published rows beside ours (table, LaTeX), and Fig. 4, its
radar per method."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations import stats  # noqa: E402
from evaluations.formatting import (better_of_pair, format_cell, gain_columns, save_figure,  # noqa: E402
                                    significant, tex_escape)
from evaluations.results import (ARCH_LABEL, BEYOND, CEILING, DATASET_LABEL, FLOOR, LEVEL_STATUS,  # noqa: E402
                                 METHOD_LABEL, TRANSFER_TASK, as_paper_datasets, dataset_label, main_runs, ours_for,
                                 row_label, standin_of)

METRIC_LABEL = {"top1": "top-1", "mean_per_class": "mean p.c.", "map11": "mAP$_{11}$"}


def table1_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Table 1 in long form: for each published (method, variant) row, in the paper's order, and
    each dataset of the paper or of this profile, the published value and ours (mean, std over
    seeds) beside it. Ours is matched by :func:`evaluations.results.ours_for` (with
    ``other_family``); the delta (ours - published) only where both exist on the same
    architecture. A scaled-down profile evaluates other datasets (the stand-ins): their rows have
    no published value, the paper's datasets no value of ours; except a stand-in of one paper
    dataset (``shapes_<dataset>``), which fills that dataset's row
    (:func:`evaluations.results.as_paper_datasets`; ``ours_dataset`` names what was evaluated)."""
    nan = float("nan")
    pub = paper[paper.task == TRANSFER_TASK]
    main = main_runs(as_paper_datasets(ours))
    main = main[main.task == TRANSFER_TASK]
    evaluated = dict(zip(main.dataset, main.ours_dataset))  # a paper dataset -> its stand-in, where one ran
    keys = ["method", "arch", "dataset", "metric"]
    mine = stats.variant_summary(main, keys=keys).rename(columns={"n": "count"})
    gains = stats.paired_differences(main, keys=keys).set_index(keys)
    metric = {**dict(zip(mine.dataset, mine.metric)), **dict(zip(pub.dataset, pub.metric))}
    extra = sorted(set(mine.dataset) - set(pub.dataset), key=lambda d: (list(METRIC_LABEL).index(metric[d]), d))
    datasets = [*dict.fromkeys(pub.dataset), *extra]  # the paper's order, then ours by metric as in the paper
    rows = []
    for (method, variant, arch), published in pub.groupby(["method", "variant", "arch"], sort=False):
        published = published.set_index("dataset")["value"]
        cand = ours_for(mine, method, arch, variant, other_family=True)
        for ours_arch in list(dict.fromkeys(cand.arch)) or [""]:
            mean = cand[cand.arch == ours_arch].set_index("dataset")
            status = (f"not run in profile {profile}" if not ours_arch else
                      "same architecture" if ours_arch == arch else "scaled-down stand-in")
            for d in datasets:
                r = mean.loc[d] if d in mean.index else {"mean": nan, "std": nan, "half_width": nan, "count": 0}
                pub_value = published.get(d, nan)
                rows.append({"method": method, "variant": variant, "arch": arch, "dataset": d, "metric": metric[d],
                             "ours_dataset": evaluated.get(d, "") if ours_arch else "",
                             "published": pub_value, "ours_arch": ours_arch, "ours": r["mean"], "ours_std": r["std"],
                             "ours_ci": r["half_width"], "n_seeds": int(r["count"]),
                             "delta": r["mean"] - pub_value if ours_arch == arch else nan,
                             **gain_columns(gains, (method, ours_arch, d, metric[d]) if ours_arch else None),
                             "status": status})
    for r in mine[~mine.method.isin(set(pub.method)) & mine.variant.isin(stats.PAIR)].itertuples():
        rows.append({"method": r.method, "variant": r.variant, "arch": "", "dataset": r.dataset, "metric": r.metric,
                     "published": nan, "ours_arch": r.arch, "ours": r.mean, "ours_std": r.std, "ours_ci": r.half_width,
                     "n_seeds": int(r.count), "delta": nan,
                     **gain_columns(gains, (r.method, r.arch, r.dataset, r.metric)), "status": BEYOND})
    for r in mine[mine.variant.isin(LEVEL_STATUS)].itertuples():  # our floor and ceiling rows
        rows.append({"method": r.method, "variant": r.variant, "arch": "", "dataset": r.dataset, "metric": r.metric,
                     "ours_dataset": evaluated.get(r.dataset, r.dataset), "published": nan, "ours_arch": r.arch,
                     "ours": r.mean, "ours_std": r.std, "ours_ci": r.half_width,
                     "n_seeds": int(r.count), "delta": nan, **gain_columns(gains, None),
                     "status": LEVEL_STATUS[r.variant]})
    return pd.DataFrame(rows)


def _table1_block(table: pd.DataFrame, column: str, arch_col: str, datasets: list[str], title: str, width: int,
                  marks: bool) -> list[str]:
    """One block of Table 1's LaTeX: a title line, a header (datasets, metrics) and a row per
    (method, variant, architecture). ``marks``: bold = better of the baseline/rescued pair (ours:
    only where the paired interval excludes 0), underline = best baseline/rescued value of the
    column; our cells carry their 95 % interval; without ``marks`` the values are signed differences."""
    table = table[table.dataset.isin(datasets)].reset_index(drop=True)
    ours = column == "ours"  # bold where the paired interval excludes 0; cells with their interval
    bold = significant(table) if ours else better_of_pair(table, column, ["method", arch_col, "dataset"])
    pair = table.variant.isin(stats.PAIR)
    best = pair & (table[column] == table[column].where(pair).groupby(table.dataset).transform("max"))
    standin = set(table.dataset[table.ours_dataset.fillna("").map(standin_of).notna()]) if ours else set()
    lines = [rf"\multicolumn{{{width}}}{{l}}{{\emph{{{title}}}}} \\",
             " & ".join(["Method", "Arch.", *(tex_escape(dataset_label(d, d in standin)) for d in datasets)]) + r" \\",
             " & ".join(["", "", *(METRIC_LABEL[table.metric[table.dataset == d].iloc[0]] for d in datasets)]) + r" \\",
             r"\midrule"]
    for (method, variant, arch), rows in table.groupby(["method", "variant", arch_col], sort=False):
        head = [row_label(method, variant), tex_escape(ARCH_LABEL.get(arch, arch)) or "--"]
        if rows[column].isna().all():
            lines.append(" & ".join([*head, rf"\multicolumn{{{len(datasets)}}}{{c}}{{{tex_escape(rows.status.iloc[0])}}}"]) + r" \\")
            continue
        cells = {r.dataset: (format_cell(getattr(r, column), r.ours_ci if ours else float("nan"), bold=bold[i],
                                  underline=best[i], digits=2, n=r.n_seeds if ours else None) if marks else
                             "--" if pd.isna(getattr(r, column)) else f"{getattr(r, column):+.2f}")
                 for i, r in rows.iterrows()}
        lines.append(" & ".join([*head, *(cells[d] for d in datasets)]) + r" \\")
    return lines


def table1_latex(table: pd.DataFrame, profile: str) -> str:
    """Table 1 (booktabs): the published block (paper Table 1), the block of this profile and,
    where both exist on the same architecture and dataset, ours - published. Each block has its
    own header, as a scaled-down profile reports other datasets than the paper."""
    def columns(col: str) -> list[str]:
        return [d for d in dict.fromkeys(table.dataset) if table.loc[table.dataset == d, col].notna().any()]

    pub_cols, our_cols, delta_cols = columns("published"), columns("ours"), columns("delta")
    our_cols = our_cols or pub_cols  # nothing run: the rows say so
    width = 2 + max(len(pub_cols), len(our_cols))
    published = table[table.variant.isin(stats.PAIR) & (table.status != BEYOND)].drop_duplicates(
        ["method", "variant", "arch", "dataset"])
    lines = [rf"\begin{{tabular}}{{ll{'r' * (width - 2)}}}", r"\toprule",
             *_table1_block(published, "published", "arch", pub_cols, "Published (paper Table 1)", width, True),
             r"\midrule",
             *_table1_block(table, "ours", "ours_arch", our_cols, f"Ours, profile {tex_escape(profile)}", width, True)]
    if delta_cols:
        with_delta = table[table.delta.notna()]
        lines += [r"\midrule", *_table1_block(with_delta, "delta", "ours_arch", delta_cols,
                                               r"$\Delta$ = ours $-$ published (same architecture)", width, False)]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def radar_factory(num_vars: int) -> np.ndarray:
    """Register a ``radar<num_vars>`` projection and return the spoke angles: matplotlib's radar
    chart example (gallery/specialty_plots/radar_chart.py, frame="polygon"): polygon gridlines,
    ``plot`` closes its lines, ``fill`` its polygons, the first spoke points up (and, unlike the
    example, the spokes run clockwise)."""
    from matplotlib.patches import RegularPolygon
    from matplotlib.path import Path as MplPath
    from matplotlib.projections import register_projection
    from matplotlib.projections.polar import PolarAxes
    from matplotlib.spines import Spine
    from matplotlib.transforms import Affine2D

    theta = np.linspace(0, 2 * np.pi, num_vars, endpoint=False)

    class RadarTransform(PolarAxes.PolarTransform):
        def transform_path_non_affine(self, path):
            if path._interpolation_steps > 1:  # gridlines: straight segments between the spokes
                path = path.interpolated(num_vars)
            return MplPath(self.transform(path.vertices), path.codes)

    class RadarAxes(PolarAxes):
        name = f"radar{num_vars}"
        PolarTransform = RadarTransform

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.set_theta_zero_location("N")
            self.set_theta_direction(-1)  # clockwise, in the order of the table's columns

        def fill(self, *args, closed=True, **kwargs):
            return super().fill(*args, closed=closed, **kwargs)

        def plot(self, *args, **kwargs):
            lines = super().plot(*args, **kwargs)
            for line in lines:
                x, y = line.get_data()
                if x[0] != x[-1]:
                    line.set_data(np.append(x, x[0]), np.append(y, y[0]))
            return lines

        def set_varlabels(self, labels):
            self.set_thetagrids(np.degrees(theta), labels)

        def _gen_axes_patch(self):
            return RegularPolygon((0.5, 0.5), num_vars, radius=0.5, edgecolor="k")

        def _gen_axes_spines(self):
            spine = Spine(axes=self, spine_type="circle", path=MplPath.unit_regular_polygon(num_vars))
            spine.set_transform(Affine2D().scale(0.5).translate(0.5, 0.5) + self.transAxes)
            return {"polar": spine}

    register_projection(RadarAxes)
    return theta


RADAR_RINGS = (0.2, 0.4, 0.6, 0.8, 1.0)


def radar_scale(values: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per spoke (column) the value at the centre and at the outer ring: the values' range widened
    by its size below and a quarter above (at least 0.5 points), within [0, 100], to 0.1. Rings are
    equally spaced in between (paper Fig. 4: "radii are equally spaced")."""
    low, high = values.min(), values.max()
    span = (high - low).clip(lower=0.5)
    return (np.floor((low - span).clip(lower=0) * 10) / 10, np.ceil((high + span / 4).clip(upper=100) * 10) / 10)


def _radar_gain(fig: plt.Figure, slot: int, rows: pd.DataFrame, table: pd.DataFrame, title: str) -> None:
    """Our side of Fig. 4 outside the paper profile: per spoke the paired gain rescued - baseline
    with its 95 % interval (a radial bar), on one symmetric scale whose middle ring is 0; each
    spoke's label gives the baseline, floor (random init) and ceiling (supervised) levels."""
    rescued = rows[rows.variant == "rescued"].drop_duplicates("dataset").set_index("dataset")
    ends = np.abs(rescued[["gain", "gain_low", "gain_high"]].to_numpy(dtype=float))
    rim = max(np.nanmax(ends) if np.isfinite(ends).any() else 0.0, 0.5) * 1.15
    to_r = lambda v: (np.asarray(v, dtype=float) + rim) / (2 * rim)  # noqa: E731
    theta = radar_factory(len(rescued))
    ax = fig.add_subplot(1, 2, slot, projection=f"radar{len(rescued)}")
    ax.plot(theta, np.full(len(theta), 0.5), color="k", lw=1.0, label="no difference")
    ax.plot(theta, to_r(rescued.gain), color="tab:orange", marker="^", label="rescued − baseline (95 % CI)")
    for t, low, high in zip(theta, rescued.gain_low, rescued.gain_high):
        if pd.notna(low):
            ax.plot([t, t], to_r([low, high]), color="tab:orange", lw=3, alpha=0.5)
    arch = rows.ours_arch.iloc[0]
    method = rows.method.iloc[0]
    levels = table[(table.ours_arch == arch) & (((table.variant == FLOOR) & (table.method == method))
                                                | (table.variant == CEILING))]
    level = {(v, d): x for v, d, x in zip(levels.variant, levels.dataset, levels.ours)}
    base = rows[rows.variant == "baseline"].set_index("dataset")["ours"]
    fmt = lambda v: "--" if pd.isna(v) else f"{v:.1f}"  # noqa: E731
    standin = dict(zip(rows.dataset, rows.ours_dataset.fillna("").map(standin_of).notna()))
    ax.set_varlabels([f"{dataset_label(d, standin.get(d, False))} (n = {r.gain_n})\nbase {fmt(base.get(d))} floor "
                      f"{fmt(level.get((FLOOR, d)))} ceil {fmt(level.get((CEILING, d)))}"
                      for d, r in rescued.iterrows()])
    ax.set_ylim(0, 1)
    ax.set_rgrids(RADAR_RINGS, labels=[])
    ax.tick_params(axis="x", labelsize=7, pad=16)
    ax.set_title(f"{title}: centre {-rim:+.1f}, rim {rim:+.1f} points", fontsize=10, pad=30)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.18), fontsize=8)


def fig4_radar(table: pd.DataFrame, method: str, profile: str, out_stem: str | Path) -> None:
    """Fig. 4 panel of one method: baseline vs rescued, published (left) beside this profile
    (right), each on its own datasets and scale; outside the paper profile our side is the paired
    gain per spoke with its interval (:func:`_radar_gain`). A method not run in the profile keeps
    the published panel; the other says so."""
    rows = table[table.method == method]
    label = METHOD_LABEL.get(method, method)
    fig = plt.figure(figsize=(11, 6.2))
    panels = (("published", "arch", "published (paper Table 1 / Fig. 4)"), ("ours", "ours_arch", f"this suite, profile '{profile}'"))
    for i, (column, arch_col, title) in enumerate(panels):
        data = rows.dropna(subset=[column])
        if column == "ours":  # a floor or ceiling alone is no panel (e.g. its trained runs stand in for another arch)
            data = data[~data.variant.isin([FLOOR, CEILING])]
        # outside the paper profile our panel draws a spoke per dataset with a rescued run (the paired gain)
        gains = column == "ours" and profile != "paper"
        if data.empty or gains and not (data.variant == "rescued").any():
            ax = fig.add_subplot(1, 2, i + 1)
            ax.axis("off")
            what = ("not in the paper's Table 1" if column != "ours" else "no rescued run to pair" if len(data)
                    else f"not run in profile '{profile}'")
            ax.text(0.5, 0.5, f"{label}: {what}\n(no values to draw)", ha="center", va="center", fontsize=11)
            ax.set_title(title, fontsize=10)
            continue
        arch = data[arch_col].iloc[0]  # the matched architecture (the paper's, else its stand-in)
        if gains:
            _radar_gain(fig, i + 1, data[data[arch_col] == arch], table, f"{title}\n{ARCH_LABEL.get(arch, arch)}")
            continue
        values = data[data[arch_col] == arch].pivot_table(index="variant", columns="dataset", values=column)
        values = values[list(dict.fromkeys(data.dataset))]
        low, high = radar_scale(values)
        theta = radar_factory(values.shape[1])
        ax = fig.add_subplot(1, 2, i + 1, projection=f"radar{values.shape[1]}")
        for variant, color, marker in (("baseline", "tab:blue", "o"), ("rescued", "tab:orange", "^")):
            if variant in values.index:
                r = ((values.loc[variant] - low) / (high - low)).to_numpy()
                ax.plot(theta, r, color=color, marker=marker, label=row_label(method, variant))
                ax.fill(theta, r, color=color, alpha=0.12)
        ax.set_ylim(0, 1)
        ax.set_rgrids(RADAR_RINGS, labels=[])
        ax.set_varlabels([f"{DATASET_LABEL.get(d, d)}\n[{low[d]:.1f}, {high[d]:.1f}]" for d in values.columns])
        ax.tick_params(axis="x", labelsize=8, pad=16)
        ax.set_title(f"{title}\n{ARCH_LABEL.get(arch, arch)}", fontsize=10, pad=30)
        ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.18), fontsize=8)
    fig.suptitle(f"Fig. 4: transfer, {label} vs Ours({label})", fontsize=12)
    fig.text(0.5, 0.93, "Published: each spoke has its own linear scale, [value at the centre, value at the outer "
             "ring] under its name;\nthe rings are equally spaced in between." + (
                 "" if profile == "paper" else " Ours: the paired gain, one scale, 0 on the black ring."),
             ha="center", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.9, bottom=0.09, top=0.76, wspace=0.55)  # room for the spoke labels
    save_figure(fig, out_stem)
