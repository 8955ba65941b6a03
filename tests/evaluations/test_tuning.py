"""The tuning rule (config tuning.rule, evaluations.tuning) on synthetic metrics with known
answers, ties included; the CPU-type check of pairs; and, once the committed tuning reference
exists, that config/tuning.yaml's main experiments are at the (s, k) the rule picks from it."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluations import tuning
from evaluations.cpu import MixedCpuError, manifest_cpus, mixed_pairs, same_cpu_pairs
from ssl_core.config import load_config
from tests.conftest import ROOT

ROW = {"group": "tune", "method": "simclr", "arch": "resnet_tiny", "task": "linear", "dataset": "shapes",
       "metric": "top1"}


def grid(gains: dict[tuple[float, int], float], seeds=range(6), noise=(0.5, -0.5)) -> pd.DataFrame:
    """Baselines at 50 + seed; per (s, k) rescued runs at the baseline + gain + a seed noise that
    averages to 0 over an even number of seeds (so the paired mean is the gain, exactly)."""
    rows = [{**ROW, "run": f"b{seed}", "variant": "baseline", "s": float("nan"), "k": float("nan"), "seed": seed,
             "value": 50.0 + seed} for seed in seeds]
    for (s, k), gain in gains.items():
        rows += [{**ROW, "run": f"r{s}-{k}-{seed}", "variant": "rescued", "s": s, "k": k, "seed": seed,
                  "value": 50.0 + seed + gain + noise[seed % 2]} for seed in seeds]
    rows += [{**r, "task": "pretrain", "metric": "collapsed", "value": float(r["run"] == "r1.5-2-0")}
             for r in list(rows)]
    return pd.DataFrame(rows)


def picks(gains):
    return tuning.select(tuning.tuning_table(grid(gains), "tune"))[("simclr", "resnet_tiny")]


def test_rule_picks_the_largest_paired_mean_then_k():
    gains = {(0.015, 2): 0.2, (0.05, 2): 1.1, (0.15, 2): 1.9, (0.5, 2): -0.7, (1.5, 2): -8.0,
             (0.15, 1): 2.4, (0.05, 1): 9.0}  # k = 1 at another s does not move s: s is chosen at the grid's k
    pick = picks(gains)
    assert (pick["s"], pick["k"], pick["grid_k"]) == (0.15, 1, 2)
    assert pick["mean"] == pytest.approx(2.4) and pick["n"] == 6 and pick["ci_low"] < 2.4 < pick["ci_high"]


def test_rule_ties_go_to_the_smaller_s_and_k():
    pick = picks({(0.05, 2): 1.5, (0.15, 2): 1.5, (0.5, 2): 1.5 - 1e-6, (0.15, 1): 0.3})
    assert (pick["s"], pick["k"]) == (0.05, 2)  # 0.05 and 0.15 tie (and 0.5 to 4 decimals): the smallest s
    pick = picks({(0.05, 2): 0.3, (0.15, 2): 1.5, (0.15, 1): 1.5, (0.15, 4): 1.5})
    assert (pick["s"], pick["k"]) == (0.15, 1)  # k ties at s = 0.15: the smaller k


def test_table_counts_collapsed_runs_and_pairs_by_seed():
    df = grid({(0.15, 2): 1.0, (1.5, 2): -3.0}).query("not (variant == 'rescued' and s == 1.5 and seed == 5)")
    table = tuning.tuning_table(df, "tune").set_index("s")
    assert table.loc[1.5, "collapsed"] == 1 and table.loc[1.5, "n_rescued"] == 5 and table.loc[1.5, "n"] == 5
    assert table.loc[0.15, "collapsed"] == 0 and table.loc[0.15, "mean"] == pytest.approx(1.0)
    assert table.loc[0.15, "baseline_mean"] == pytest.approx(52.5)


def test_unknown_rule_and_no_pairs_are_errors():
    table = tuning.tuning_table(grid({(0.15, 2): 1.0}), "tune")
    with pytest.raises(tuning.TuningError, match="not one of"):
        tuning.select(table, "argmax_of_means")
    no_base = grid({(0.15, 2): 1.0}).query("variant == 'rescued'")
    with pytest.raises(tuning.TuningError, match="no grid point has a paired gain"):
        tuning.select(tuning.tuning_table(no_base, "tune"))


def test_check_main_experiments_names_a_wrong_point_and_reused_seeds():
    config = {"tuning": {"group": "tune", "rule": "largest_paired_mean"},
              "methods": {"simclr": {"rescue": {"k": 2, "s": 0.75}}},
              "experiments": [{"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline", "rescued"],
                               "seeds": [100, 101], "group": "tune", "rescue": {"k": 2, "s": 0.05}},
                              {"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline", "rescued"],
                               "seeds": list(range(24))}]}
    pick = {("simclr", "resnet_tiny"): {"s": 0.15, "k": 2}}
    assert tuning.check_main_experiments(config, pick) == [
        "simclr resnet_tiny: main experiments at s = 0.75, k = 2; the rule picks s = 0.15, k = 2"]
    config["experiments"][1]["rescue"] = {"s": 0.15}
    assert tuning.check_main_experiments(config, pick) == []
    config["experiments"][1]["seeds"] = [0, 101]
    assert tuning.check_main_experiments(config, pick) == [
        "simclr resnet_tiny: confirmation seeds [101] were used in tuning"]
    config["experiments"].pop()
    assert tuning.check_main_experiments(config, pick) == ["simclr resnet_tiny: no main experiment (the confirmation runs) yet"]


def test_pairs_across_cpu_types_are_refused_or_dropped():
    df = grid({(0.15, 2): 1.0}, seeds=range(2))
    cpus = {"b0": "AMD EPYC", "b1": "AMD EPYC", "r0.15-2-0": "AMD EPYC", "r0.15-2-1": "Intel Xeon"}
    bad = mixed_pairs(df, cpus)
    assert bad[["run_baseline", "run_rescued"]].values.tolist() == [["b1", "r0.15-2-1"]]
    with pytest.raises(MixedCpuError, match="b1 on 'AMD EPYC' and r0.15-2-1 on 'Intel Xeon'"):
        same_cpu_pairs(df, cpus)
    kept, note = same_cpu_pairs(df, cpus, drop=True)
    assert "r0.15-2-1" not in set(kept.run) and "left out" in note
    kept, note = same_cpu_pairs(df, {"b0": "AMD EPYC"})  # unrecorded CPUs are not refused, but said
    assert len(kept) == len(df) and note.startswith("2 pair(s) with a run whose CPU is not recorded")


def test_manifest_cpus_per_part_with_the_machine_as_default():
    manifest = {"machine": {"cpu": "Intel Xeon"}, "parts": {"a": {"runs": ["x"]}, "b": {"runs": ["y"], "cpu": "AMD"}}}
    assert manifest_cpus(manifest) == {"x": "Intel Xeon", "y": "AMD"}


REFERENCE = ROOT / "results" / "reference" / "tuning"


@pytest.mark.skipif(not (REFERENCE / "metrics.csv").is_file(),
                    reason="no committed tuning reference yet (results/reference/tuning/metrics.csv): the tuning "
                           "runs of config/tuning.yaml are being built in parts")
def test_config_main_experiments_use_the_selected_point():
    config = load_config(ROOT / "config" / "tuning.yaml")
    metrics, _ = tuning.read_tuning_runs(config, REFERENCE)
    picks = tuning.select(tuning.tuning_table(metrics, config["tuning"]["group"]), config["tuning"]["rule"],
                          tuning.grid_of(config))  # a method whose grid is still being built: no pick, no check
    assert tuning.check_main_experiments(config, picks) == []


def _write_run(results, spec, top1, collapse=None):
    from ssl_core.io import write_json

    write_json(results / "pretrain" / spec["run"] / "run.json",
               {"spec": spec, "params": 1000, "final": {"loss": 1.0, "emb_std": 0.05}, "collapse": collapse,
                "cpu": "Test CPU"})
    write_json(results / "eval" / "linear" / f"{spec['run']}.json",
               {"run": spec["run"], "task": "linear", "dataset": "shapes", "metric": "top1", "value": top1})


def test_tuning_command_on_finished_runs(tmp_path, capsys):
    """The CLI on config/tuning.yaml's own run names: SimCLR's grid on two of its six seeds (no
    selection yet: the rule selects from the complete grid), then on all six, the rescued runs at
    s = 0.15 best and k = 2 better than k = 1 there; MoCo v3 not run yet."""
    import json

    from evaluations.__main__ import main
    from ssl_core.config import run_matrix

    config = load_config(ROOT / "config" / "tuning.yaml")
    runs = run_matrix(config)
    results = tmp_path / "results" / "tuning"
    gains = {(0.015, 2): 0.1, (0.05, 2): 0.5, (0.15, 2): 1.5, (0.5, 2): -2.0, (1.5, 2): -9.0, (0.15, 1): 1.2}
    for seeds in ((100, 101), (102, 103, 104, 105)):
        for run, spec in runs.items():
            if spec["method"] == "simclr" and spec["seed"] in seeds and "tune" in spec["groups"]:
                base = 50.0 + spec["seed"]
                _write_run(results, spec, base + (gains[spec["s"], spec["k"]] + 0.1 * (spec["seed"] - 100)
                                                  if spec["variant"] == "rescued" else 0))
        main(["tuning", "--configfile", str(ROOT / "config" / "tuning.yaml"), "--results", str(results)])
        out = capsys.readouterr().out
        selection = json.loads((results / "tables" / "tuning_selection.json").read_text())["selection"]
        if seeds == (100, 101):
            assert "not selected yet: simclr resnet_tiny: 12 of 36 pairs finished" in out and selection == {}
    assert "selected (largest_paired_mean): simclr resnet_tiny s = 0.15, k = 2 (grid at k = 2): +1.75" in out
    assert selection["simclr resnet_tiny"]["s"] == 0.15 and "mocov3 resnet_tiny" not in selection
    assert "confirmation: the main experiments are at the selected (s, k)" in out  # config/tuning.yaml's seeds 200-223
    table = pd.read_csv(results / "tables" / "tuning.csv")
    assert table.selected.sum() == 1 and table.n.eq(6).all() and len(table) == 6  # 5 values of s at k = 2, k = 1


def test_interim_of_a_tuning_profile_makes_its_tuning_table_and_reads_itself_as_tuned(tmp_path):
    """Before its confirmation runs, a tuning profile's interim tables are metrics.csv and the tuning
    table (no main run: nothing for Fig. 2 or the claims); with one, the claims read it as tuned."""
    import yaml

    from evaluations.interim import interim_commands
    from ssl_core.config import run_matrix

    config = load_config(ROOT / "config" / "tuning.yaml")
    results = tmp_path / "results" / "tuning"
    for spec in run_matrix(config).values():
        if spec["method"] == "simclr" and spec["seed"] == 100:
            _write_run(results, spec, 50.0)
    commands, done = interim_commands(ROOT / "config" / "tuning.yaml", results)
    assert [c[0] for c in commands] == ["aggregate", "tuning"]
    assert commands[1] == ["tuning", "--configfile", str(ROOT / "config" / "tuning.yaml"), "--results", str(results)]
    confirming = tmp_path / "confirming.yaml"  # the profile once its confirmation runs are written in
    experiments = yaml.safe_load((ROOT / "config" / "tuning.yaml").read_text())["experiments"]
    confirming.write_text(yaml.safe_dump({"inherits": str(ROOT / "config" / "tuning.yaml"), "experiments": [
        *experiments, {"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline", "rescued"], "seeds": [0],
                       "rescue": {"s": 0.15, "k": 2}}]}))
    for spec in run_matrix(load_config(confirming)).values():
        if spec["seed"] == 0 and spec["variant"] in ("baseline", "rescued"):
            _write_run(results, spec, 50.0)
    commands, _ = interim_commands(confirming, results)
    claims = next(c for c in commands if c[0] == "claims")
    assert claims[claims.index("--tuned") + 1] == str(results)
    verdict_config = load_config(ROOT / "config" / "verdict.yaml")
    verdict_results = tmp_path / "results" / "verdict"
    _write_run(verdict_results, run_matrix(verdict_config)["simclr-resnet_tiny-baseline-seed0"], 50.0)
    verdict, _ = interim_commands(ROOT / "config" / "verdict.yaml", verdict_results, tuned="results/reference/tuning")
    claims = next(c for c in verdict if c[0] == "claims")
    assert claims[-2:] == ["--tuned", "results/reference/tuning"] and all(c[0] != "tuning" for c in verdict)
