"""metrics.csv and the artifacts made from it. Each function takes DataFrames and writes files;
none trains. Layout of every table: the paper's rows, published values beside ours."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ssl_core.io import atomic_path, write_text  # noqa: E402

COLUMNS = ["run", "method", "arch", "variant", "s", "k", "seed", "task", "dataset", "metric", "value"]
METHOD_LABEL = {"simclr": "SimCLR", "mocov3": "MoCo v3", "dinov2": "DINOv2", "barlowtwins": "BarlowTwins",
                "mugs": "Mugs", "maect": "MAE-CT"}
ARCH_LABEL = {"resnet50": "ResNet-50", "resnet18": "ResNet-18", "resnet_tiny": "ResNet-tiny",
              "vit_small": "ViT-S", "vit_base": "ViT-B", "vit_large": "ViT-L", "vit_huge": "ViT-H"}


def arch_family(arch: str) -> str:
    return "vit" if arch.startswith("vit") else "resnet"


def aggregate(run_jsons: list[str | Path], eval_jsons: list[str | Path]) -> pd.DataFrame:
    """One tidy long table: a row per (run, task, dataset, metric)."""
    runs = {}
    rows = []
    for path in run_jsons:
        info = json.loads(Path(path).read_text())
        spec = info["spec"]
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
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["run", "task", "dataset", "metric"], ignore_index=True)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def read_metrics(path: str | Path) -> pd.DataFrame:
    """metrics.csv or a results/paper CSV: text columns keep empty strings, numbers are numbers
    (s, k, seed empty for baselines -> NaN)."""
    df = pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    for col in ("s", "k", "seed"):
        df[col] = pd.to_numeric(df[col].replace("", float("nan")), errors="coerce")
    return df


def fig2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Fig. 2's table: every published row with our linear top-1 (mean, std over seeds) beside it.
    Ours is matched on (method, variant, arch); a scaled-down profile has no paper architecture, so
    there ours is its stand-in of the same family (ResNet / ViT) and no delta is computed."""
    pub = paper[(paper.task == "linear") & (paper.metric == "top1")]
    pub_std = paper[(paper.task == "linear") & (paper.metric == "top1_std")].set_index("run")["value"]
    mine = ours[(ours.task == "linear") & (ours.metric == "top1")]
    mine = mine.groupby(["method", "arch", "variant"])["value"].agg(["mean", "std", "count"]).reset_index()
    rows = []
    for r in pub.itertuples():
        cand = mine[(mine.method == r.method) & (mine.variant == r.variant)]
        exact = cand[cand.arch == r.arch]
        cand = exact if len(exact) else cand[cand.arch.map(arch_family) == arch_family(r.arch)]
        base = {"method": r.method, "variant": r.variant, "arch": r.arch, "published_top1": r.value,
                "published_std": pub_std.get(r.run, float("nan"))}
        if cand.empty:
            rows.append({**base, "ours_arch": "", "ours_top1": float("nan"), "ours_std": float("nan"),
                         "n_seeds": 0, "delta": float("nan"), "status": f"not run in profile {profile}"})
        for c in cand.itertuples():
            rows.append({**base, "ours_arch": c.arch, "ours_top1": c.mean, "ours_std": c.std, "n_seeds": int(c.count),
                         "delta": c.mean - r.value if c.arch == r.arch else float("nan"),
                         "status": "same architecture" if c.arch == r.arch else "scaled-down stand-in"})
    return pd.DataFrame(rows)


def _fmt(mean: float, std: float = float("nan"), bold: bool = False) -> str:
    if pd.isna(mean):
        return "--"
    text = f"{mean:.1f}" + (rf" $\pm$ {std:.2f}" if pd.notna(std) else "")
    return rf"\textbf{{{text}}}" if bold else text


def _better_of_pair(df: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """True where a row holds the higher value of its baseline/rescued pair (the paper's bold)."""
    best = df.groupby(keys)[column].transform("max")
    pair = df.groupby(keys)["variant"].transform("nunique") == 2
    return pair & (df[column] == best)


def fig2_latex(table: pd.DataFrame, profile: str) -> str:
    table = table.reset_index(drop=True)
    bold_pub = _better_of_pair(table, "published_top1", ["method", "arch"])
    bold_ours = _better_of_pair(table, "ours_top1", ["method", "ours_arch"])
    lines = [r"\begin{tabular}{lllrlrr}", r"\toprule",
             rf"Method & Arch. & Variant & Published & Ours arch. & Ours ({profile}) & $\Delta$ \\", r"\midrule"]
    for i, r in table.iterrows():
        name = METHOD_LABEL.get(r.method, r.method)
        name = f"Ours({name})" if r.variant == "rescued" else name
        lines.append(" & ".join([
            name, ARCH_LABEL.get(r.arch, r.arch), r.variant, _fmt(r.published_top1, r.published_std, bold_pub[i]),
            ARCH_LABEL.get(r.ours_arch, r.ours_arch) or "not run", _fmt(r.ours_top1, r.ours_std, bold_ours[i]),
            "--" if pd.isna(r.delta) else f"{r.delta:+.1f}"]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def fig2_figure(ours: pd.DataFrame, paper: pd.DataFrame, profile: str, out_stem: str | Path) -> None:
    """Fig. 2 (left): linear top-1 against backbone parameters; published beside this profile."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, df, title in ((axes[0], paper, "published (paper Fig. 2)"), (axes[1], ours, f"this suite, profile '{profile}'")):
        top1 = df[(df.task == "linear") & (df.metric == "top1")]
        top1 = top1.groupby(["method", "arch", "variant"])["value"].agg(["mean", "std"]).reset_index()
        params = df[df.metric == "params_M"].groupby(["method", "arch", "variant"])["value"].first()
        for r in top1.itertuples():
            p = params.get((r.method, r.arch, r.variant), float("nan"))
            main = r.method in ("simclr", "mocov3", "dinov2")
            style = dict(marker="^", color="tab:orange") if r.variant == "rescued" else \
                dict(marker="o", color="tab:blue" if main else "grey")
            ax.errorbar(p, r.mean, yerr=0 if pd.isna(r.std) else r.std, linestyle="none", markersize=8, **style)
            label = METHOD_LABEL.get(r.method, r.method)
            label = f"Ours({label})" if r.variant == "rescued" else label
            ax.annotate(f"{label} {ARCH_LABEL.get(r.arch, r.arch)}", (p, r.mean), fontsize=7,
                        xytext=(4, -10 if r.variant == "rescued" else 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("backbone parameters (M, log scale)")
        ax.set_ylabel("linear top-1 (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", color="tab:blue", linestyle="none", label="SSL baseline"),
               plt.Line2D([], [], marker="^", color="tab:orange", linestyle="none", label="rescued (ours)"),
               plt.Line2D([], [], marker="o", color="grey", linestyle="none", label="other SOTA")]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_figure(fig, out_stem)


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
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, out_stem)


TABLE2_COLUMNS = [(task, metric) for task in ("det_voc", "det_coco", "seg_coco") for metric in ("AP", "AP50", "AP75")]
TABLE2_HEADER = {"det_voc": ("VOC07+12 det", "all"), "det_coco": ("COCO det", "bb"), "seg_coco": ("COCO instance seg", "mk")}


def table2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str, missing: str) -> pd.DataFrame:
    """Table 2: per published row (method, variant), the published values and ours (mean over
    seeds) in the 9 columns ``<task>_<metric>``. Ours is matched as in :func:`fig2_table` (same arch,
    else a stand-in of the same family); rows without ours say why (``missing``)."""
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
        cand = mine[(mine.method == method) & (mine.variant == variant)]
        exact = cand[cand.arch == arch]
        cand = exact if len(exact) else cand[cand.arch.map(arch_family) == arch_family(arch)]
        if cand.empty:
            rows.append({"method": method, "variant": variant, "arch": arch, "source": "ours", "ours_arch": "",
                         "n_seeds": 0, "status": f"not run: {missing}", **{c: float("nan") for c in cols}})
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
        for i, r in block.iterrows():
            name = METHOD_LABEL.get(r.method, r.method)
            name = f"Ours({name})" if r.variant == "rescued" else name
            cells = []
            for c in cols:
                text = _fmt(r[c], bold=bold[c][i])
                if pd.notna(r[c]) and r[c] == block[c].max():
                    text = rf"\underline{{{text}}}"
                cells.append(text)
            arch = ARCH_LABEL.get(r[arch_col], r[arch_col]) or r.status
            lines.append(" & ".join([name, arch, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
