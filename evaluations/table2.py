"""Table 2: dense prediction (VOC detection, COCO detection and instance segmentation), the
published rows beside ours (table, LaTeX)."""
from __future__ import annotations

import pandas as pd

from evaluations import stats
from evaluations.formatting import better_of_pair, format_cell
from evaluations.results import ARCH_LABEL, BEYOND, FLOOR, LEVEL_STATUS, ours_for, row_label


TABLE2_COLUMNS = [(task, metric) for task in ("det_voc", "det_coco", "seg_coco") for metric in ("AP", "AP50", "AP75")]
TABLE2_HEADER = {"det_voc": ("VOC07+12 det", "all"), "det_coco": ("COCO det", "bb"), "seg_coco": ("COCO instance seg", "mk")}


def table2_table(ours: pd.DataFrame, paper: pd.DataFrame, profile: str, missing: str) -> pd.DataFrame:
    """Table 2: per published row (method, variant), the published values and ours (mean over
    seeds) in the 9 columns ``<task>_<metric>``. Ours is matched by
    :func:`evaluations.results.ours_for` (same arch, else a stand-in of the same family, else of the
    other); rows without ours say why (``missing``, e.g. "not run in profile tiny"). Then our floors
    (random init, per method and arch, fine-tuned with the same recipe) where the profile ran them
    (``eval.dense.floor``), and the rows of a method the paper does not have (BYOL: "beyond the
    paper")."""
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
        cand = ours_for(mine, method, arch, variant, other_family=True)
        if cand.empty:
            rows.append({"method": method, "variant": variant, "arch": arch, "source": "ours", "ours_arch": "",
                         "n_seeds": 0, "status": missing, **{c: float("nan") for c in cols}})
        for ours_arch, g in cand.groupby("arch"):
            values = {f"{r.task}_{r.metric}": r.mean for r in g.itertuples()}
            rows.append({"method": method, "variant": variant, "arch": arch, "source": "ours", "ours_arch": ours_arch,
                         "n_seeds": int(g["count"].max()),
                         "status": "same architecture" if ours_arch == arch else f"scaled-down stand-in ({profile})",
                         **{c: values.get(c, float("nan")) for c in cols}})
    # ours alone: a method the paper lacks (BYOL, "beyond the paper"), then our floors (eval.dense.floor)
    alone = pd.concat([mine[mine.variant.isin(stats.PAIR) & ~mine.method.isin(pub.method)], mine[mine.variant == FLOOR]])
    for (method, ours_arch, variant), g in alone.groupby(["method", "arch", "variant"], sort=False):
        values = {f"{r.task}_{r.metric}": r.mean for r in g.itertuples()}
        rows.append({"method": method, "variant": variant, "arch": "", "source": "ours", "ours_arch": ours_arch,
                     "n_seeds": int(g["count"].max()), "status": LEVEL_STATUS.get(variant, BEYOND),
                     **{c: values.get(c, float("nan")) for c in cols}})
    order = {"published": 0, "ours": 1}
    table = pd.DataFrame(rows)
    return table.sort_values("source", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def table2_latex(table: pd.DataFrame, profile: str) -> str:
    """The paper's layout, published block then ours: bold = better of each baseline/rescued pair,
    underline = best baseline/rescued value of the column within the block (the paper's marks; our
    floor rows are never marked)."""
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
        pair = block.variant.isin(stats.PAIR)
        bold = {c: better_of_pair(block[pair], c, ["method", arch_col]).reindex(block.index, fill_value=False)
                for c in cols}
        best = {c: pair & (block[c] == block[c].where(pair).max()) for c in cols}
        for i, r in block.iterrows():
            cells = [format_cell(r[c], bold=bold[c][i], underline=best[c][i]) for c in cols]
            arch = ARCH_LABEL.get(r[arch_col], r[arch_col]) or r.status
            lines.append(" & ".join([row_label(r.method, r.variant), arch, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
