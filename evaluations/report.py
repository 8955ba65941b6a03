"""metrics.csv and the artifacts made from it. Each function takes DataFrames and writes files;
none trains. Layout of every table: the paper's rows, published values beside ours."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations import stats  # noqa: E402
from ssl_core.config import MAIN_GROUP, arch_family, stand_ins  # noqa: E402
from ssl_core.io import atomic_path, write_text  # noqa: E402
from ssl_core.methods import method_labels, method_names  # noqa: E402

COLUMNS = ["run", "group", "method", "arch", "variant", "s", "k", "seed", "task", "dataset", "metric", "value"]
# The suite's methods (ssl_core.methods) and the paper's other methods (its Fig. 2 has them).
METHOD_LABEL = {**method_labels(), "barlowtwins": "BarlowTwins", "mugs": "Mugs", "maect": "MAE-CT"}
ARCH_LABEL = {"resnet50": "ResNet-50", "resnet18": "ResNet-18", "resnet_tiny": "ResNet-tiny",
              "vit_tiny_test": "ViT-tiny", "vit_s_tiny": "ViT-S-tiny", "vit_b_tiny": "ViT-B-tiny", "vit_small": "ViT-S",
              "vit_base": "ViT-B", "vit_large": "ViT-L", "vit_huge": "ViT-H"}


FLOOR, CEILING = "random_init", "supervised"  # the variants of the floor and ceiling rows
LEVEL_STATUS = {FLOOR: "floor: random init", CEILING: "ceiling: supervised"}
BEYOND = "beyond the paper"  # the status of our rows of a method the paper does not have (BYOL)


def row_label(method: str, variant: str) -> str:
    """The paper's row name: "SimCLR", "Ours(SimCLR)", ..., "SimCLR random init", "Supervised"."""
    name = METHOD_LABEL.get(method, method)
    return {"rescued": f"Ours({name})", FLOOR: f"{name} random init", CEILING: "Supervised"}.get(variant, name)


def main_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the main experiments, which Fig. 2, Tables 1-2, the radars and the claims read
    (:func:`of_group`; none is not an error here: a profile may not have run yet)."""
    return of_group(df, MAIN_GROUP, empty_ok=True)


def paired_gains(ours: pd.DataFrame) -> pd.DataFrame:
    """rescued - baseline of the main runs per (method, arch, task, dataset, metric), paired by seed,
    with its 95 % interval (evaluations.stats), indexed by those keys."""
    return stats.paired_differences(main_runs(ours)).set_index(stats.KEYS)


def _gain_columns(gains: pd.DataFrame, key: tuple | None) -> dict[str, float]:
    """The paired gain of one comparison as table columns (NaN where not both variants ran)."""
    g = gains.loc[key] if key is not None and key in gains.index else {}
    nan = float("nan")
    return {"gain": g.get("mean", nan), "gain_low": g.get("ci_low", nan), "gain_high": g.get("ci_high", nan),
            "gain_n": int(g.get("n", 0))}


def _significant(df: pd.DataFrame) -> pd.Series:
    """Bold on our side: the row's variant is the one its paired interval shows to be better (never
    where the interval contains 0 or is undefined, n < 2)."""
    better = [stats.better_variant(r.gain_low, r.gain_high) for r in df.itertuples()]
    return pd.Series([b is not None and b == v for b, v in zip(better, df.variant)], index=df.index)


def aggregate(run_jsons: list[str | Path], eval_jsons: list[str | Path], groups: dict[str, list[str]]) -> pd.DataFrame:
    """One tidy long table: a row per (run, group, task, dataset, metric). ``groups``: run -> the
    groups that use it (``ssl_core.config.run_groups``); a run of several groups (one training)
    has its rows once per group."""
    runs = {}
    rows = []
    for path in run_jsons:
        info = json.loads(Path(path).read_text())
        spec = info["spec"]
        if not groups.get(spec["run"]):
            raise ValueError(f"{path}: run {spec['run']} has no group (pass every run's groups)")
        meta = {key: spec[key] for key in ("run", "method", "arch", "variant", "s", "k", "seed")}
        runs[spec["run"]] = meta
        final = info["final"]
        rows += [
            {**meta, "task": "model", "dataset": "", "metric": "params_M", "value": info["params"] / 1e6},
            {**meta, "task": "pretrain", "dataset": "", "metric": "collapsed", "value": float(info["collapse"] is not None)},
            {**meta, "task": "pretrain", "dataset": "", "metric": "final_loss", "value": final.get("loss", float("nan"))},
            {**meta, "task": "pretrain", "dataset": "", "metric": "emb_std", "value": final.get("emb_std", float("nan"))},
        ]
    for path in eval_jsons:
        result = json.loads(Path(path).read_text())
        meta = runs[result["run"]]
        # one metric per file, or several under "metrics" (a dense job: det_coco and seg_coco)
        for row in result.get("metrics", [result]):
            rows.append({**meta, "task": row["task"], "dataset": row["dataset"], "metric": row["metric"],
                         "value": row["value"]})
    rows = [{**row, "group": group} for row in rows for group in groups[row["run"]]]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["run", "group", "task", "dataset", "metric"], ignore_index=True)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def read_metrics(path: str | Path, group: str | None = None) -> pd.DataFrame:
    """metrics.csv or a results/paper CSV: text columns keep empty strings, numbers are numbers
    (s, k, seed empty for baselines -> NaN). ``group``: only the rows of that group of runs
    (:func:`of_group`), as every artifact made from metrics.csv reads it."""
    df = pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    for col in ("s", "k", "seed"):
        df[col] = pd.to_numeric(df[col].replace("", float("nan")), errors="coerce")
    return df if group is None else of_group(df, group, path)


def of_group(metrics: pd.DataFrame, group: str, source: str | Path = "metrics.csv", empty_ok: bool = False) -> pd.DataFrame:
    """The rows of one group of runs: "main" (Fig. 2, Tables 1-2, the radars) or a sweep's name
    (Figs. 5-6). A run of several groups has a row per group, so an artifact that read every row
    would count it twice and pool the sweep's runs with the main ones: a table without the
    ``group`` column is an error, never read as one group."""
    if "group" not in metrics.columns:
        raise ValueError(f"{source} has no 'group' column (written by an older aggregate step): rerun it, "
                         "e.g. snakemake --forcerun aggregate")
    rows = metrics[metrics.group == group]
    if rows.empty and not empty_ok:
        raise ValueError(f"{source} has no runs of group {group!r}; its groups: {', '.join(sorted(set(metrics.group)))}")
    return rows.reset_index(drop=True)


def _ours_for(mine: pd.DataFrame, method: str, variant: str, arch: str, other_family: bool = False) -> pd.DataFrame:
    """Our rows for a published (method, variant, arch): that architecture if run, else (a
    scaled-down profile) the architectures of the same family (ResNet / ViT). With
    ``other_family`` (Tables 1-2, one published architecture per method), a method run only on
    the other family stands in too (tiny, small: MoCo v3 on the tiny ResNet for the paper's ViT-B)."""
    cand = mine[(mine.method == method) & (mine.variant == variant)]
    exact = cand[cand.arch == arch]
    if len(exact):
        return exact
    same = cand[cand.arch.isin(stand_ins(cand.arch, arch))]
    if same.empty and other_family and arch_family(arch) not in set(mine[mine.method == method].arch.map(arch_family)):
        return cand
    return same


def _linear_top1(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df.task == "linear") & (df.metric == "top1")]


def fig2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Fig. 2's table: every published row with our linear top-1 of the main runs beside it (mean,
    std, n over seeds, ``ours_ci`` the half-width of the mean's 95 % interval) and the paired gain
    rescued - baseline of that method and architecture (``gain``, ``gain_low``/``gain_high``, n).
    Ours is matched on (method, variant, arch); a scaled-down profile has no paper architecture, so
    there ours is its stand-in of the same family (ResNet / ViT) and no delta is computed. Then the
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
        cand = _ours_for(mine, r.method, r.variant, r.arch)
        base = {"method": r.method, "variant": r.variant, "arch": r.arch, "published_top1": r.value,
                "published_std": pub_std.get(r.run, nan)}
        if cand.empty:
            rows.append({**base, "ours_arch": "", "ours_top1": nan, "ours_std": nan, "ours_ci": nan,
                         "n_seeds": 0, "delta": nan, **_gain_columns(gains, None),
                         "status": f"not run in profile {profile}"})
        for c in cand.itertuples():
            rows.append({**base, "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                         "n_seeds": int(c.n), "delta": c.mean - r.value if c.arch == r.arch else nan,
                         **_gain_columns(gains, (c.method, c.arch)),
                         "status": "same architecture" if c.arch == r.arch else "scaled-down stand-in"})
    for c in mine[~mine.method.isin(set(pub.method)) & mine.variant.isin(stats.PAIR)].itertuples():
        rows.append({"method": c.method, "variant": c.variant, "arch": "", "published_top1": nan, "published_std": nan,
                     "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                     "n_seeds": int(c.n), "delta": nan, **_gain_columns(gains, (c.method, c.arch)), "status": BEYOND})
    for c in mine[mine.variant.isin(LEVEL_STATUS)].itertuples():
        rows.append({"method": c.method, "variant": c.variant, "arch": "", "published_top1": nan, "published_std": nan,
                     "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "ours_ci": c.half_width,
                     "n_seeds": int(c.n), "delta": nan, **_gain_columns(gains, None), "status": LEVEL_STATUS[c.variant]})
    table = pd.DataFrame(rows)
    # seeds of our run that ended flagged collapsed (NaN loss or embedding std; the probe still reads them)
    table["n_collapsed"] = [int(collapsed.get((r.method, r.ours_arch, r.variant), 0)) for r in table.itertuples()]
    return table


def _fmt(mean: float, half: float = float("nan"), bold: bool = False, underline: bool = False, digits: int = 1,
         n: int | None = None) -> str:
    """A cell: mean ± the half-width of its 95 % interval; "(n = 1)" where one seed leaves it
    undefined (``n`` given), "--" where nothing was measured."""
    if pd.isna(mean):
        return "--"
    text = f"{mean:.{digits}f}" + (rf" $\pm$ {half:.2f}" if pd.notna(half) else
                                   f" (n = {n})" if n is not None and n < 2 else "")
    text = rf"\underline{{{text}}}" if underline else text
    return rf"\textbf{{{text}}}" if bold else text


def _fmt_gain(r) -> str:
    """The paired gain rescued - baseline of a row: "+0.9 ± 1.3 (n = 5)", "+0.9 (n = 1)", "--"."""
    if pd.isna(r.gain):
        return "--"
    half = (r.gain_high - r.gain_low) / 2
    return f"{r.gain:+.1f}" + (rf" $\pm$ {half:.1f}" if pd.notna(half) else "") + f" (n = {r.gain_n})"


def _is_max(df: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """True where a row holds the highest ``column`` of its group (ties: all of them; NaN: never)."""
    return df[column] == df.groupby(keys)[column].transform("max")


def _better_of_pair(df: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """True where a row holds the higher value of its baseline/rescued pair (the paper's bold)."""
    pair = df.groupby(keys)["variant"].transform("nunique") == 2
    return pair & _is_max(df, column, keys)


def fig2_latex(table: pd.DataFrame, profile: str) -> str:
    """Published (the paper's bold: better of each pair) beside ours (mean ± 95 % interval; bold
    only where the paired interval of rescued - baseline excludes 0), the paired gain on each
    rescued row, and Δ = ours - published on the paper's architecture."""
    table = table.reset_index(drop=True)
    bold_pub = _better_of_pair(table, "published_top1", ["method", "arch"])
    bold_ours = _significant(table)
    lines = [r"\begin{tabular}{lllrlrrr}", r"\toprule",
             rf"Method & Arch. & Variant & Published & Ours arch. & Ours ({_tex(profile)}) & Rescued $-$ baseline & $\Delta$ \\",
             r"\midrule"]
    for i, r in table.iterrows():
        lines.append(" & ".join([
            row_label(r.method, r.variant), ARCH_LABEL.get(r.arch, r.arch) or "--", _tex(r.variant),
            _fmt(r.published_top1, r.published_std, bold_pub[i]),
            ARCH_LABEL.get(r.ours_arch, r.ours_arch) or "not run",
            _fmt(r.ours_top1, r.ours_ci, bold_ours[i], n=r.n_seeds) + (r"$^\dagger$" if r.n_collapsed else ""),
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


def save_figure(fig: plt.Figure, out_stem: str | Path, formats: tuple[str, ...] = ("pdf", "png")) -> None:
    """PDF + PNG, byte-stable across reruns (no creation date in the metadata)."""
    for ext, meta in (("pdf", {"CreationDate": None}), ("png", {"Software": None})):
        if ext not in formats:
            continue
        with atomic_path(f"{out_stem}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150, metadata=meta)
    plt.close(fig)


def write_table(table: pd.DataFrame, latex: str, out_stem: str | Path) -> None:
    write_csv(table, f"{out_stem}.csv")
    write_text(f"{out_stem}.tex", latex)


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


TABLE2_COLUMNS = [(task, metric) for task in ("det_voc", "det_coco", "seg_coco") for metric in ("AP", "AP50", "AP75")]
TABLE2_HEADER = {"det_voc": ("VOC07+12 det", "all"), "det_coco": ("COCO det", "bb"), "seg_coco": ("COCO instance seg", "mk")}


def table2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str, missing: str) -> pd.DataFrame:
    """Table 2: per published row (method, variant), the published values and ours (mean over
    seeds) in the 9 columns ``<task>_<metric>``. Ours is matched as in :func:`fig2_table` (same arch,
    else a stand-in of the same family); rows without ours say why (``missing``, e.g. "not run in
    profile tiny")."""
    cols = [f"{t}_{m}" for t, m in TABLE2_COLUMNS]
    tasks = {t for t, _ in TABLE2_COLUMNS}
    pub = paper[paper.task.isin(tasks)]
    mine = ours[ours.task.isin(tasks)].groupby(["method", "arch", "variant", "task", "metric"])["value"]
    mine = mine.agg(["mean", "count"]).reset_index()
    rows = []
    for (method, variant, arch), group in pub.groupby(["method", "variant", "arch"], sort=False):
        values = {f"{r.task}_{r.metric}": r.value for r in group.itertuples()}
        rows.append({"method": method, "variant": variant, "arch": arch, "source": "published", "ours_arch": "",
                     "n_seeds": float("nan"), "status": "paper Table 2", **values})
        cand = _ours_for(mine, method, variant, arch, other_family=True)
        if cand.empty:
            rows.append({"method": method, "variant": variant, "arch": arch, "source": "ours", "ours_arch": "",
                         "n_seeds": 0, "status": missing, **{c: float("nan") for c in cols}})
        for ours_arch, g in cand.groupby("arch"):
            values = {f"{r.task}_{r.metric}": r.mean for r in g.itertuples()}
            rows.append({"method": method, "variant": variant, "arch": arch, "source": "ours", "ours_arch": ours_arch,
                         "n_seeds": int(g["count"].max()),
                         "status": "same architecture" if ours_arch == arch else f"scaled-down stand-in ({profile})",
                         **{c: values.get(c, float("nan")) for c in cols}})
    order = {"published": 0, "ours": 1}
    table = pd.DataFrame(rows)
    return table.sort_values("source", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def table2_latex(table: pd.DataFrame, profile: str) -> str:
    """The paper's layout, published block then ours: bold = better of each baseline/rescued pair,
    underline = best of the column within the block (the paper's marks)."""
    cols = [f"{t}_{m}" for t, m in TABLE2_COLUMNS]
    lines = [r"\begin{tabular}{ll" + "r" * len(cols) + "}", r"\toprule",
             " & & " + " & ".join(rf"\multicolumn{{3}}{{c}}{{{TABLE2_HEADER[t][0]}}}" for t in TABLE2_HEADER) + r" \\",
             "Method & Arch. & " + " & ".join(
                 rf"AP$^{{{TABLE2_HEADER[t][1]}}}_{{{m[2:]}}}$" if m != "AP" else rf"AP$^{{{TABLE2_HEADER[t][1]}}}$"
                 for t, m in TABLE2_COLUMNS) + r" \\"]
    for source, block in table.groupby("source", sort=False):
        block = block.reset_index(drop=True)
        title = "Published (paper Table 2)" if source == "published" else f"Ours (profile {profile})"
        lines += [r"\midrule", rf"\multicolumn{{{2 + len(cols)}}}{{l}}{{\emph{{{title}}}}} \\"]
        arch_col = "arch" if source == "published" else "ours_arch"
        bold = {c: _better_of_pair(block, c, ["method", arch_col]) for c in cols}
        best = {c: block[c] == block[c].max() for c in cols}
        for i, r in block.iterrows():
            cells = [_fmt(r[c], bold=bold[c][i], underline=best[c][i]) for c in cols]
            arch = ARCH_LABEL.get(r[arch_col], r[arch_col]) or r.status
            lines.append(" & ".join([row_label(r.method, r.variant), arch, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- Table 1 / Fig. 4
TRANSFER_TASK = "transfer_linear"
DATASET_LABEL = {"cifar10": "Cifar10", "cifar100": "Cifar100", "food101": "Food101", "sun397": "SUN397", "dtd": "DTD",
                 "pets": "Pets", "aircraft": "Aircraft", "voc2007": "VOC2007", "flowers": "Flowers",
                 "caltech101": "Caltech101"}
METRIC_LABEL = {"top1": "top-1", "mean_per_class": "mean p.c.", "map11": "mAP$_{11}$"}
STANDIN_PREFIX = "shapes_"  # shapes_<dataset>: the generated stand-in of a paper dataset (paper_standins)
STANDIN_MARK = " (stand-in)"


def standin_of(dataset: str) -> str | None:
    """The paper dataset a transfer stand-in ``shapes_<dataset>`` stands for, else None."""
    d = dataset.removeprefix(STANDIN_PREFIX)
    return d if dataset.startswith(STANDIN_PREFIX) and d in DATASET_LABEL else None


def as_paper_datasets(ours: pd.DataFrame) -> pd.DataFrame:
    """``ours`` with each stand-in's transfer rows under the paper dataset it stands for, so they
    fill that dataset's row of Table 1 and its claims; ``ours_dataset`` keeps the name evaluated.
    A run scored on both a paper dataset and its stand-in is an error (which would it report?)."""
    out = ours.copy()
    out["ours_dataset"] = out["dataset"]
    transfer = out.task == TRANSFER_TASK
    paper = out.loc[transfer, "dataset"].map(lambda d: standin_of(d) or d)
    both = out.loc[transfer].assign(paper=paper).groupby(["run", "group", "paper"]).ours_dataset.nunique()
    if (both > 1).any():
        run, _, d = both[both > 1].index[0]
        raise ValueError(f"run {run} has transfer results on both {d} and its stand-in {STANDIN_PREFIX}{d}")
    out.loc[transfer, "dataset"] = paper
    return out


def dataset_label(dataset: str, standin: bool = False) -> str:
    return DATASET_LABEL.get(dataset, dataset) + (STANDIN_MARK if standin else "")


def _tex(text: str) -> str:
    return text.replace("_", r"\_")


def table1_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Table 1 in long form: for each published (method, variant) row, in the paper's order, and
    each dataset of the paper or of this profile, the published value and ours (mean, std over
    seeds) beside it. Ours is matched as in :func:`fig2_table`; the delta (ours - published) only
    where both exist on the same architecture. A scaled-down profile evaluates other datasets (the
    stand-ins): their rows have no published value, the paper's datasets no value of ours; except
    a stand-in of one paper dataset (``shapes_<dataset>``), which fills that dataset's row
    (:func:`as_paper_datasets`; ``ours_dataset`` names what was evaluated)."""
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
        cand = _ours_for(mine, method, variant, arch, other_family=True)
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
                             **_gain_columns(gains, (method, ours_arch, d, metric[d]) if ours_arch else None),
                             "status": status})
    for r in mine[~mine.method.isin(set(pub.method)) & mine.variant.isin(stats.PAIR)].itertuples():
        rows.append({"method": r.method, "variant": r.variant, "arch": "", "dataset": r.dataset, "metric": r.metric,
                     "published": nan, "ours_arch": r.arch, "ours": r.mean, "ours_std": r.std, "ours_ci": r.half_width,
                     "n_seeds": int(r.count), "delta": nan,
                     **_gain_columns(gains, (r.method, r.arch, r.dataset, r.metric)), "status": BEYOND})
    for r in mine[mine.variant.isin(LEVEL_STATUS)].itertuples():  # our floor and ceiling rows
        rows.append({"method": r.method, "variant": r.variant, "arch": "", "dataset": r.dataset, "metric": r.metric,
                     "ours_dataset": evaluated.get(r.dataset, r.dataset), "published": nan, "ours_arch": r.arch,
                     "ours": r.mean, "ours_std": r.std, "ours_ci": r.half_width,
                     "n_seeds": int(r.count), "delta": nan, **_gain_columns(gains, None),
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
    bold = _significant(table) if ours else _better_of_pair(table, column, ["method", arch_col, "dataset"])
    pair = table.variant.isin(stats.PAIR)
    best = pair & (table[column] == table[column].where(pair).groupby(table.dataset).transform("max"))
    standin = set(table.dataset[table.ours_dataset.fillna("").map(standin_of).notna()]) if ours else set()
    lines = [rf"\multicolumn{{{width}}}{{l}}{{\emph{{{title}}}}} \\",
             " & ".join(["Method", "Arch.", *(_tex(dataset_label(d, d in standin)) for d in datasets)]) + r" \\",
             " & ".join(["", "", *(METRIC_LABEL[table.metric[table.dataset == d].iloc[0]] for d in datasets)]) + r" \\",
             r"\midrule"]
    for (method, variant, arch), rows in table.groupby(["method", "variant", arch_col], sort=False):
        head = [row_label(method, variant), _tex(ARCH_LABEL.get(arch, arch)) or "--"]
        if rows[column].isna().all():
            lines.append(" & ".join([*head, rf"\multicolumn{{{len(datasets)}}}{{c}}{{{_tex(rows.status.iloc[0])}}}"]) + r" \\")
            continue
        cells = {r.dataset: (_fmt(getattr(r, column), r.ours_ci if ours else float("nan"), bold=bold[i],
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
             *_table1_block(table, "ours", "ours_arch", our_cols, f"Ours, profile {_tex(profile)}", width, True)]
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
        if data.empty:
            ax = fig.add_subplot(1, 2, i + 1)
            ax.axis("off")
            what = f"not run in profile '{profile}'" if column == "ours" else "not in the paper's Table 1"
            ax.text(0.5, 0.5, f"{label}: {what}\n(no values to draw)", ha="center", va="center", fontsize=11)
            ax.set_title(title, fontsize=10)
            continue
        arch = data[arch_col].iloc[0]  # the matched architecture (the paper's, else its stand-in)
        if column == "ours" and profile != "paper":
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
