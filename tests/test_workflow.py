"""The DAG, through Snakemake's CLI (its Python API changed in 8.0)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ssl_core.config import load_config, run_matrix
from ssl_core.methods import METHODS
from tests.conftest import ROOT

BIN = str(Path(sys.executable).parent)


def snakemake(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run([f"{BIN}/snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def copy_workflow(dst: Path) -> Path:
    for name in ("Snakefile", "workflow", "config", "results/paper"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / name)
    return dst


def jobs_of(dry_run_stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    counts, in_table = {}, False
    for line in dry_run_stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and parts and parts[0] == "total":
            break
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def n_runs(config: str) -> int:
    return len(run_matrix(load_config(ROOT / "config" / config)))


def test_dry_run_tiny_profile(tmp_path):
    jobs = jobs_of(snakemake("-n", "-c1", cwd=copy_workflow(tmp_path)).stdout)
    n = n_runs("config.yaml")
    main = [r for r in run_matrix(load_config(ROOT / "config" / "config.yaml")).values() if not r["sweep"]]
    assert len(main) == 2 * len(METHODS.names())  # every method, baseline and rescued
    n_sweeps = len(load_config(ROOT / "config" / "config.yaml")["sweeps"])
    assert jobs == {"aggregate": 1, "all": 1, "fig2_linear": 1, "fig3_augmentations": 1, "linear_probe": n,
                    "pretrain": n, "shapes_data": 1, "cosine_study": 1, "fig5_sensitivity_s": n_sweeps,
                    "fig6_sensitivity_k": n_sweeps}


def test_dry_run_paper_profile(tmp_path):
    out = snakemake("-n", "-c1", "--configfile", "config/paper.yaml", cwd=copy_workflow(tmp_path)).stdout
    jobs = jobs_of(out)
    assert jobs["pretrain"] == jobs["linear_probe"] == n_runs("paper.yaml") and "shapes_data" not in jobs
    assert "results/paper/pretrain/simclr-resnet50-rescued-s0.75-k128-seed0/backbone.pt" in out


def test_invalid_config_fails_naming_the_key(tmp_path):
    wf = copy_workflow(tmp_path)
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["train"]["ckpt_every_step"] = 5
    (wf / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "-c1", "--configfile", "bad.yaml", cwd=wf, check=False)
    assert proc.returncode != 0
    assert "train: unknown key(s) 'ckpt_every_step'" in proc.stdout + proc.stderr


def test_lint_passes_but_for_per_rule_envs(tmp_path):
    """Snakemake's linter, with one lint accepted: every rule runs in the project's one pinned
    environment (pyproject.toml / environment.yml), so no rule names a conda env of its own."""
    proc = snakemake("--lint", cwd=copy_workflow(tmp_path), check=False)
    found = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("    * ")]
    assert found and all(lint.startswith("* Specify a conda environment") for lint in found), found


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The whole tiny DAG, end to end, shortened (fewer images and epochs) to keep the suite fast."""
    wf = copy_workflow(tmp_path_factory.mktemp("dag"))
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["data"]["shapes"].update(n_train=512, n_val=128)
    for method in cfg["methods"].values():
        method["recipe"].update(epochs=2, batch_size=128)
    for sweep in cfg["sweeps"]:  # one seed, two values each, 2 steps: the mechanics only
        sweep.update(seeds=[0], recipe={"epochs": 1, "epoch_length": 2, "warmup_epochs": 0})
        sweep["s"]["values"] = sweep["s"]["values"][:2]
        sweep["k"]["values"] = sweep["k"]["values"][1:]
    cfg["eval"]["linear"]["epochs"] = 5
    (wf / "small.yaml").write_text(yaml.safe_dump(cfg))
    snakemake("-c2", "--configfile", "small.yaml", cwd=wf)
    return wf


def test_tiny_dag_end_to_end(tiny_run):
    out = tiny_run / "results" / "tiny"
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns) == ["run", "method", "arch", "variant", "s", "k", "seed", "task", "dataset", "metric", "value"]
    top1 = metrics[(metrics.task == "linear") & (metrics.metric == "top1")]
    runs = run_matrix(load_config(tiny_run / "small.yaml"))
    assert sorted(top1.run) == sorted(runs)
    assert top1.value.between(0, 100).all()
    for run, spec in runs.items():
        records = [json.loads(line) for line in (out / "pretrain" / run / "metrics.jsonl").read_text().splitlines()]
        assert len(records) == (2 if spec["sweep"] else 2 * 4), run  # main: 512 images / batch 128 x 2 epochs
        if spec["variant"] == "rescued":
            assert all("loss_topk" in r and "topk_sim" in r for r in records)
    table = pd.read_csv(out / "tables" / "fig2_linear.csv")
    ours = table.dropna(subset=["ours_top1"])
    assert set(zip(ours.method, ours.variant)) == {(s["method"], s["variant"]) for s in runs.values()}
    assert (table[table.method == "mugs"].status.str.startswith("not run")).all()
    tex = (out / "tables" / "fig2_linear.tex").read_text()
    assert r"\toprule" in tex and "Ours(SimCLR)" in tex
    for ext in ("pdf", "png"):
        assert (out / "figures" / f"fig2_params_vs_top1.{ext}").stat().st_size > 1000
    assert (out / "figures" / "fig3_augmentations.png").stat().st_size > 1000
    cosine = pd.read_csv(out / "tables" / "cosine_study.csv")
    assert list(cosine.views) == ["common", "strong"] and list(cosine.published) == [0.7069, 0.669]
    assert cosine.ours.between(-1, 1).all()


def test_sensitivity_figures(tiny_run):
    out = tiny_run / "results" / "tiny" / "figures"
    for method in METHODS.names():
        for name in (f"fig5_sensitivity_s_{method}", f"fig6_sensitivity_k_{method}"):
            assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.pdf").exists()
            table = pd.read_csv(out / f"{name}.csv")
            assert len(table) == 2 and table["mean"].between(0, 100).all() and not table.collapsed.any()


def test_second_run_has_nothing_to_do(tiny_run):
    proc = snakemake("-n", "-c1", "--configfile", "small.yaml", cwd=tiny_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_named_target_reruns_only_what_it_needs(tiny_run):
    (tiny_run / "results" / "tiny" / "tables" / "fig2_linear.tex").unlink()
    # the target before --configfile, which takes every path after it as a config file
    jobs = jobs_of(snakemake("results/tiny/tables/fig2_linear.tex", "-n", "-c1", "--configfile", "small.yaml",
                             cwd=tiny_run).stdout)
    assert jobs == {"fig2_linear": 1}
