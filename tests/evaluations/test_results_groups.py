"""Groups of runs in metrics.csv: the aggregate step writes a row per (run, group) and every
artifact reads only its group, so the sweep's runs never pool into Fig. 2 / Tables 1-2."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from evaluations import results
from evaluations.__main__ import main
from tests.conftest import ROOT

# A main experiment (64 steps, s 0.75, k 4) and a sweep of another recipe (tagged ids), which
# shares nothing with it, plus a sweep point equal to the main rescued run (one training, both groups).
RUNS = {  # run -> (variant, s, k, groups, linear top-1)
    "simclr-resnet_tiny-baseline-seed0": ("baseline", None, None, ["main", "sens"], 40.0),
    "simclr-resnet_tiny-rescued-s0.75-k4-seed0": ("rescued", 0.75, 4, ["main", "sens"], 50.0),
    "simclr-resnet_tiny-rescued-s2-k4-seed0": ("rescued", 2.0, 4, ["sens"], 10.0),
    "simclr-resnet_tiny-rescued-s0.25-k4-seed0": ("rescued", 0.25, 4, ["sens"], 12.0),
    "simclr-resnet_tiny-rescued-s0.75-k8-seed0": ("rescued", 0.75, 8, ["sens"], 14.0),
}


@pytest.fixture
def metrics_csv(tmp_path):
    """metrics.csv as the aggregate step writes it from per-run JSONs."""
    run_jsons, eval_jsons = [], []
    for run, (variant, s, k, _, top1) in RUNS.items():
        spec = {"run": run, "method": "simclr", "arch": "resnet_tiny", "variant": variant, "s": s, "k": k, "seed": 0}
        run_jsons.append(tmp_path / f"{run}.run.json")
        run_jsons[-1].write_text(json.dumps({"spec": spec, "params": 1e6, "collapse": None, "final": {"loss": 1.0}}))
        eval_jsons.append(tmp_path / f"{run}.linear.json")
        eval_jsons[-1].write_text(json.dumps({"run": run, "task": "linear", "dataset": "shapes", "metric": "top1",
                                              "value": top1}))
    out = tmp_path / "metrics.csv"
    main(["aggregate", "--runs", *map(str, run_jsons), "--evals", *map(str, eval_jsons), "--groups",
          json.dumps({run: groups for run, (*_, groups, _) in RUNS.items()}), "--out", str(out)])
    return out


def test_aggregate_writes_a_row_per_run_and_group(metrics_csv):
    df = results.read_metrics(metrics_csv)
    assert list(df.columns) == results.COLUMNS and results.COLUMNS[:2] == ["run", "group"]
    top1 = df[df.metric == "top1"]
    assert sorted(zip(top1.run, top1.group)) == sorted((r, g) for r, (*_, groups, _) in RUNS.items() for g in groups)
    shared = top1[top1.run == "simclr-resnet_tiny-rescued-s0.75-k4-seed0"]
    assert sorted(shared.group) == ["main", "sens"] and shared.value.tolist() == [50.0, 50.0]
    with pytest.raises(ValueError, match="has no group"):
        results.aggregate([metrics_csv.parent / "simclr-resnet_tiny-baseline-seed0.run.json"], [], {})


def test_fig2_reads_the_main_runs_only(metrics_csv, tmp_path):
    main(["fig2", "--metrics", str(metrics_csv), "--paper", str(ROOT / "results" / "paper" / "fig2_linear.csv"),
          "--profile", "tiny", "--table", str(tmp_path / "fig2"), "--figure", str(tmp_path / "fig2_figure")])
    table = pd.read_csv(tmp_path / "fig2.csv")
    ours = table[(table.method == "simclr") & table.ours_top1.notna()].drop_duplicates(["variant"])
    # pooled with the sweep, the rescued row would be the mean of 4 runs (21.5) and the baseline of 2
    assert dict(zip(ours.variant, zip(ours.ours_top1, ours.n_seeds))) == {"baseline": (40.0, 1), "rescued": (50.0, 1)}


def test_sensitivity_reads_its_sweep_once(metrics_csv, tmp_path):
    sweep = {"method": "simclr", "group": "sens", "fixed": 4,
             "rescued": sorted(r for r, v in RUNS.items() if v[0] == "rescued" and v[2] == 4),
             "baselines": ["simclr-resnet_tiny-baseline-seed0"]}
    main(["sensitivity", "--metrics", str(metrics_csv), "--sweep", json.dumps(sweep), "--param", "s",
          "--profile", "tiny", "--figure", str(tmp_path / "fig5")])
    table = pd.read_csv(tmp_path / "fig5.csv")
    # the s = 0 point is the sweep's baseline (its seed-0 top-1, 40), then each s once
    assert table[["s", "mean", "n_seeds"]].values.tolist() == [[0.0, 40.0, 1], [0.25, 12.0, 1], [0.75, 50.0, 1],
                                                                 [2.0, 10.0, 1]]


def test_reading_a_group_fails_clearly(metrics_csv, tmp_path):
    with pytest.raises(ValueError, match=r"no runs of group 'sweep2'; its groups: main, sens"):
        results.read_metrics(metrics_csv, "sweep2")
    old = tmp_path / "old.csv"
    pd.read_csv(metrics_csv).drop(columns="group").to_csv(old, index=False)
    with pytest.raises(ValueError, match="no 'group' column .* rerun it"):
        results.read_metrics(old, "main")
