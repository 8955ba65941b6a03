"""The collapse flag of rescued runs checked against their baselines (issue 39, item 6).

A run is flagged collapsed (run.json ``collapse``, metrics.csv ``pretrain collapsed``) when its loss
went non-finite or when the mean per-dimension std of its l2-normalised embeddings (``emb_std``,
lightly's / SimSiam's statistic) ends below 0.1 / sqrt(D) (ssl_core.training.outputs). That threshold is a
fixed fraction of the healthy value 1 / sqrt(D) and knows nothing of the method: the verdict
reference's DINOv2 baselines end at emb_std 0.024-0.035, well under 1 / sqrt(D), and 10 of its 12
rescued runs at 0.003-0.006, under the threshold, while their probe stays within about 2 points of
the baselines'. Is that collapse, or a smaller but healthy embedding?

Collapse means every image maps to (nearly) one point: nothing is left for the probe, which then
falls to the random-init floor. So each rescued run is read on two axes against the baselines of
its group, method and architecture:

- ``emb_z``: its emb_std in SDs of the baselines' emb_std (and ``emb_ratio``, as a share of their
  mean): how unusual its spread is;
- ``retained``: (its top-1 - floor) / (baseline mean top-1 - floor), the share of the baselines'
  gain over the random-init floor (the group's own ``random_init`` run, else the main group's) the
  probe keeps.

``reading``: ``collapse`` where a flagged run keeps less than half of that gain (RETAINED_MIN),
``flag only: smaller embedding, probe healthy`` where it keeps at least half, ``no flag`` otherwise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evaluations.results import FLOOR, read_metrics

RETAINED_MIN = 0.5  # below: the probe lost most of what training gave it over random init
COLUMNS = ["group", "method", "arch", "s", "k", "seed", "run", "collapsed", "emb_std", "emb_ratio", "emb_z", "top1",
           "retained", "reading"]


def _wide(metrics: pd.DataFrame) -> pd.DataFrame:
    keep = ((metrics.task == "pretrain") & metrics.metric.isin(["collapsed", "emb_std"])) | \
           ((metrics.task == "linear") & (metrics.metric == "top1"))
    rows = metrics[keep].assign(name=lambda d: d.metric.where(d.task == "pretrain", "top1"))
    meta = rows.drop_duplicates(["group", "run"]).set_index(["group", "run"])[["method", "arch", "variant", "s", "k", "seed"]]
    values = rows.pivot_table(index=["group", "run"], columns="name", values="value", aggfunc="first")
    return meta.join(values).reset_index()


def collapse_table(metrics: pd.DataFrame, group: str | None = None) -> pd.DataFrame:
    """One row per rescued run (of ``group``, or of every group): its collapse flag, emb_std against
    its baselines' (ratio to their mean, z in their SDs), top-1 and the share of the baselines' gain
    over the floor it keeps, and the reading (module docstring)."""
    wide = _wide(metrics if not group else metrics[metrics.group == group])
    floors = _wide(metrics)
    floors = floors[floors.variant == FLOOR].groupby(["group", "method", "arch"]).top1.mean()
    out = []
    for (grp, method, arch), runs in wide.groupby(["group", "method", "arch"], sort=True):
        base = runs[runs.variant == "baseline"]
        resc = runs[runs.variant == "rescued"]
        if base.empty or resc.empty:
            continue
        floor = floors.get((grp, method, arch), floors.get(("main", method, arch), np.nan))
        b_std, b_sd, b_top1 = base.emb_std.mean(), base.emb_std.std(ddof=1), base.top1.mean()
        for r in resc.itertuples():
            retained = (r.top1 - floor) / (b_top1 - floor) if b_top1 != floor else np.nan
            flagged = bool(getattr(r, "collapsed", 0) > 0)
            reading = ("no flag" if not flagged else "collapse" if retained < RETAINED_MIN
                       else "flag only: smaller embedding, probe healthy" if retained == retained
                       else "flag (no floor to read the probe against)")
            out.append({"group": grp, "method": method, "arch": arch, "s": r.s, "k": r.k, "seed": r.seed, "run": r.run,
                        "collapsed": flagged, "emb_std": r.emb_std, "emb_ratio": r.emb_std / b_std,
                        "emb_z": (r.emb_std - b_std) / b_sd if b_sd > 0 else np.nan, "top1": r.top1,
                        "retained": retained, "reading": reading})
    return pd.DataFrame(out, columns=COLUMNS)


def collapse_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (group, method, arch, s, k): rescued runs, how many flagged, their emb_std range and z,
    the mean share of the baselines' gain over the floor the flagged ones keep, and how many read
    as collapse."""
    rows = []
    for key, g in table.groupby(["group", "method", "arch", "s", "k"], sort=True):
        flagged = g[g.collapsed]
        rows.append({**dict(zip(["group", "method", "arch", "s", "k"], key)), "runs": len(g),
                     "flagged": len(flagged), "collapse": int((g.reading == "collapse").sum()),
                     "emb_std_min": g.emb_std.min(), "emb_std_max": g.emb_std.max(), "emb_z_mean": g.emb_z.mean(),
                     "retained_flagged": flagged.retained.mean() if len(flagged) else np.nan})
    return pd.DataFrame(rows)


def collapse_report(metrics_path, group: str = "") -> str:
    """The collapse check of a metrics.csv as text: the baselines' emb_std spread per method, then
    the summary per grid point."""
    metrics = read_metrics(metrics_path)
    table = collapse_table(metrics, group or None)
    if table.empty:
        return f"{metrics_path}: no rescued run with baselines of its group{' ' + group if group else ''}"
    wide = _wide(metrics if not group else metrics[metrics.group == group])
    base = wide[wide.variant == "baseline"].groupby(["group", "method", "arch"]).agg(
        n=("emb_std", "size"), emb_std_mean=("emb_std", "mean"), emb_std_sd=("emb_std", "std"),
        emb_std_min=("emb_std", "min"), top1_mean=("top1", "mean"))
    return ("baselines' embedding spread (emb_std: mean per-dim std of the l2-normalised embeddings):\n"
            + base.to_string(float_format=lambda v: f"{v:.4f}")
            + f"\n\nrescued runs per point (collapse: flagged and the probe keeps < {RETAINED_MIN:.0%} of the "
            "baselines' gain over random init; emb_z in the baselines' SDs):\n"
            + collapse_summary(table).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
