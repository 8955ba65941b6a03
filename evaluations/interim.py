"""Tables of a profile built so far: a reference made in parts (docs/profiles.md, the verdict
profile) has its claims read before its last part. `python -m evaluations interim` makes, from
the runs whose pretraining and linear probe have finished, what the DAG's report rules make from
every run: metrics.csv, Fig. 2's table and plot, the claims table, the forest plot and the
training curves (the same subcommands, called with the finished runs only); Table 1 and Fig. 4
from the runs whose transfer jobs have all finished, Table 2 from those whose dense jobs have.
Sweeps enter the claims table and get their Figs. 5-6 only when every run of theirs has finished;
the cosine study when its CSV exists."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluations.dense import TASKS as DENSE_TASKS
from evaluations.dense import dense_runs, left_out
from ssl_core.config import MAIN_GROUP, load_config, run_groups, run_matrix, sweep_figure
from ssl_core.methods import method_names


def finished_runs(runs: dict[str, dict[str, Any]], results: Path) -> list[str]:
    """The runs with both their pretraining record and their linear probe on disk."""
    return sorted(r for r in runs if (results / "pretrain" / r / "run.json").is_file()
                  and (results / "eval" / "linear" / f"{r}.json").is_file())


def interim_commands(config_path: str | Path, results: str | Path,
                     paper_dir: str | Path = "results/paper", tuned: str | Path | None = None) -> tuple[list[list[str]], list[str]]:
    """The subcommands (argument lists of `python -m evaluations`) that make the tables of the
    finished runs of the profile ``config_path`` under ``results``, and those runs. ``tuned``: a
    tuning profile's results or reference whose confirmation runs read the linear claims a second
    time (claims --tuned); a tuning profile (config ``tuning``) also gets its tuning table first and
    is its own ``tuned``."""
    config, results, paper = load_config(config_path), Path(results), Path(paper_dir)
    runs = run_matrix(config)
    done = finished_runs(runs, results)
    if not done:
        raise SystemExit(f"no finished run under {results}: expected {results}/pretrain/<run>/run.json and "
                         f"{results}/eval/linear/<run>.json for a run of {config_path}")
    profile = config["profile"]
    groups = {r: g for r, g in run_groups(runs).items() if r in done}
    metrics, tables, figures = results / "metrics.csv", results / "tables", results / "figures"
    sweeps = [s for s in config.get("sweeps", [])
              if all(r in done for r, spec in runs.items() if s["name"] in spec["groups"] and spec["method"] == s["method"])]
    # the dense jobs of the finished runs whose every task has finished: Table 2
    dense_jobs = {r: [results / "eval" / "dense" / r / f"{task}.json" for task in DENSE_TASKS]
                  for r in dense_runs(config, runs) if r in done}
    dense_jobs = {r: paths for r, paths in dense_jobs.items() if all(p.is_file() for p in paths)}
    dense = ("not run: no dense evaluation in this profile" if not config["eval"].get("dense")
             else "" if dense_jobs else "not run: no finished dense job yet")
    cosine = tables / "cosine_study.csv"
    # the transfer cells of the runs whose every transfer job has finished (as the DAG: main runs, or all)
    transfer = config["eval"].get("transfer", {})
    cells = {r: [results / "eval" / "transfer" / r / f"{d}.json" for d in transfer.get("datasets", [])]
             for r in done if transfer.get("runs") == "all" or MAIN_GROUP in runs[r]["groups"]}
    cells = {r: paths for r, paths in cells.items() if paths and all(p.is_file() for p in paths)}
    commands = [
        ["aggregate", "--runs", *[str(results / "pretrain" / r / "run.json") for r in done],
         "--evals", *[str(results / "eval" / "linear" / f"{r}.json") for r in done],
         *[str(p) for paths in cells.values() for p in paths],
         *[str(p) for paths in dense_jobs.values() for p in paths],
         "--groups", json.dumps(groups, sort_keys=True), "--out", str(metrics)]]
    # Fig. 2, the claims and the forest plot read the main runs: none yet in a tuning profile before
    # its confirmation runs (metrics.csv, and the tuning table below)
    if any(MAIN_GROUP in runs[r]["groups"] for r in done):
        commands += [
            ["fig2", "--metrics", str(metrics), "--paper", str(paper / "fig2_linear.csv"), "--profile", profile,
             "--table", str(tables / "fig2_linear"), "--figure", str(figures / "fig2_params_vs_top1")],
            ["claims", "--metrics", str(metrics), *(["--cosine", str(cosine)] if cosine.is_file() else []),
             "--paper-dir", str(paper), "--sweeps", json.dumps(sweeps, sort_keys=True), "--profile", profile,
             "--table", str(tables / "claims"), "--dense-status", dense, "--dense-left-out",
             json.dumps(left_out(config), sort_keys=True),
             *(["--tuned", str(results if "tuning" in config else tuned)] if tuned or "tuning" in config else [])],
            ["forest", "--claims", str(tables / "claims.csv"), "--profile", profile, "--figure", str(figures / "forest")],
        ]
    if "tuning" in config and any(config["tuning"]["group"] in runs[r]["groups"] for r in done):
        commands.insert(1, ["tuning", "--configfile", str(config_path), "--results", str(results)])
    if dense_jobs:
        commands.append(["table2", "--metrics", str(metrics), "--paper", str(paper / "table2_dense.csv"),
                         "--profile", profile, "--status", f"not run in profile {profile}",  # as the DAG's
                         "--table", str(tables / "table2_dense")])
    if cells:
        commands.append(["table1", "--metrics", str(metrics), "--paper", str(paper / "table1_transfer.csv"),
                         "--profile", profile, "--table", str(tables / "table1_transfer")])
        for method in sorted({runs[r]["method"] for r in cells} & set(method_names())):  # not the ceiling's
            commands.append(["fig4", "--metrics", str(metrics), "--paper", str(paper / "table1_transfer.csv"),
                             "--profile", profile, "--method", method, "--figure", str(figures / f"fig4_radar_{method}")])
    for sweep in sweeps:
        for num, param in ((5, "s"), (6, "k")):
            commands.append(["sensitivity", "--metrics", str(metrics), "--sweep",
                             json.dumps(sweep_figure(config, sweep, param), sort_keys=True), "--param", param,
                             "--profile", profile,
                             "--figure", str(figures / f"fig{num}_sensitivity_{param}_{sweep['method']}")])
    for method in sorted({runs[r]["method"] for r in done}):
        curve_runs = [r for r in done if runs[r]["method"] == method and MAIN_GROUP in runs[r]["groups"]
                      and runs[r]["variant"] in ("baseline", "rescued")]
        if curve_runs:
            commands.append(["curves", "--runs", *[str(results / "pretrain" / r) for r in curve_runs],
                             "--method", method, "--profile", profile,
                             "--figure", str(figures / f"training_curves_{method}")])
    return commands, done
