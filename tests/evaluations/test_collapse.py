"""The collapse check (evaluations.collapse) on synthetic runs with known readings."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluations.collapse import collapse_summary, collapse_table


def runs(rows):
    """rows: (run, variant, seed, emb_std, collapsed, top1) of DINOv2 ViT-tiny in group main."""
    out = []
    for run, variant, seed, emb, flag, top1 in rows:
        meta = {"run": run, "group": "main", "method": "dinov2", "arch": "vit_tiny_test", "variant": variant,
                "s": 1.0 if variant == "rescued" else float("nan"), "k": 2.0 if variant == "rescued" else float("nan"),
                "seed": seed, "dataset": ""}
        out += [{**meta, "task": "pretrain", "metric": "emb_std", "value": emb},
                {**meta, "task": "pretrain", "metric": "collapsed", "value": flag},
                {**meta, "task": "linear", "metric": "top1", "value": top1, "dataset": "shapes"}]
    return pd.DataFrame(out)


def test_a_flagged_run_whose_probe_keeps_its_accuracy_is_not_read_as_collapse():
    df = runs([("b0", "baseline", 0, 0.028, 0, 50.0), ("b1", "baseline", 1, 0.032, 0, 50.0),
               ("f", "random_init", 0, float("nan"), 0, 30.0),
               ("r0", "rescued", 0, 0.004, 1, 48.0),   # flagged, keeps 90 % of the gain over the floor
               ("r1", "rescued", 1, 0.001, 1, 32.0),   # flagged, back near the floor: collapse
               ("r2", "rescued", 2, 0.029, 0, 49.0)])  # not flagged
    table = collapse_table(df).set_index("run")
    assert table.reading.to_dict() == {"r0": "flag only: smaller embedding, probe healthy", "r1": "collapse",
                                       "r2": "no flag"}
    assert table.loc["r0", "retained"] == pytest.approx(0.9)
    assert table.loc["r0", "emb_ratio"] == pytest.approx(0.004 / 0.030)
    sd = pd.Series([0.028, 0.032]).std(ddof=1)
    assert table.loc["r0", "emb_z"] == pytest.approx((0.004 - 0.030) / sd)
    summary = collapse_summary(collapse_table(df)).iloc[0]
    assert (summary.runs, summary.flagged, summary.collapse) == (3, 2, 1)
