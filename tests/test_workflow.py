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

from evaluations.dense import DETECTRON2_MISSING, detectron2_available
from evaluations.dense import dense_runs as select_dense_runs
from ssl_core.config import load_config, run_matrix
from ssl_core.io import write_json
from ssl_core.methods import METHODS
from tests.conftest import ROOT, env_without_detectron2

BIN = str(Path(sys.executable).parent)


def workflow_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for Snakemake in a copy of the workflow: this
    environment's snakemake on PATH, and this checkout's code first on PYTHONPATH (the copy has
    none, and the environment's editable install may point to another checkout)."""
    env = dict(env or os.environ)
    return {**env, "PATH": BIN + os.pathsep + env["PATH"], "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}


def snakemake(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # never in the repository itself: what its results/ hold (e.g. a finished reproduction) would
    # change what the test sees, and the test would change them
    assert Path(cwd).resolve() != ROOT, "run Snakemake in a copy (copy_workflow)"
    proc = subprocess.run([f"{BIN}/snakemake", *args], cwd=cwd, env=workflow_env(env), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


WORKFLOW = ("Snakefile", "profiles", "workflow", "config", "results/paper", "environment.yml")
REPOSITORY = (*WORKFLOW, "ssl_core", "evaluations", "benchmarks", "tests", "pyproject.toml")


def copy_workflow(dst: Path, names: tuple[str, ...] = WORKFLOW, source: Path = ROOT) -> Path:
    """The workflow (or, with ``names=REPOSITORY``, the code and tests too) of ``source`` (this
    checkout) copied into ``dst``, without results: a test's own DAG."""
    for name in names:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst / name)
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


def dense_runs(config: dict) -> list[str]:
    """The main runs of a backbone family with a Detectron2 schedule, their floors with
    eval.dense.floor (evaluations.dense.dense_runs, which workflow/rules/common.smk reads)."""
    return select_dense_runs(config, run_matrix(config))


@pytest.fixture(scope="module")
def tiny_dry_run_without_detectron2(tmp_path_factory) -> subprocess.CompletedProcess:
    """A plain `snakemake -n` (no -c: profiles/default, which it loads by itself, gives the cores)
    of the tiny DAG where Detectron2 cannot be imported: one Snakemake call for the tests that
    read that plan."""
    tmp = tmp_path_factory.mktemp("tiny_dry_run")
    (tmp / "wf").mkdir()
    return snakemake("-n", cwd=copy_workflow(tmp / "wf"), env=env_without_detectron2(tmp))


@pytest.mark.dag_state
def test_dry_run_tiny_profile(tmp_path, tiny_dry_run_without_detectron2):
    """A plain `snakemake` (no -c: profiles/default, which it loads by itself, gives the cores)
    plans the tiny DAG (the shared plan where Detectron2 is absent, as in CI; its own where it is
    installed, with the dense jobs)."""
    proc = snakemake("-n", cwd=copy_workflow(tmp_path)) if detectron2_available() else tiny_dry_run_without_detectron2
    assert "Using workflow specific profile profiles/default" in proc.stdout + proc.stderr
    jobs = jobs_of(proc.stdout)
    n = n_runs("config.yaml")
    main = [r for r in run_matrix(load_config(ROOT / "config" / "config.yaml")).values() if "main" in r["groups"]]
    trained = [r for r in main if r["variant"] in ("baseline", "rescued")]
    assert len(trained) == 2 * len(METHODS.names())  # every method, baseline and rescued
    # and their floor (per method and seed) and ceiling (per arch)
    assert sorted(r["variant"] for r in main if r not in trained) == ["random_init"] * len(METHODS.names()) + \
        ["supervised"] * 2
    n_sweeps = len(load_config(ROOT / "config" / "config.yaml")["sweeps"])
    transfer = load_config(ROOT / "config" / "config.yaml")["eval"]["transfer"]
    n_transfer = len(transfer["datasets"])
    assert transfer["jobs"] == "per_run"  # one job per run for its n_transfer cells
    n_dense = len(dense_runs(load_config(ROOT / "config" / "config.yaml"))) if detectron2_available() else 0
    dense = {"dense_data": 1, "detectron2_weights": n_dense, "dense": 2 * n_dense} if n_dense else {}
    assert jobs == {"aggregate": 1, "all": 1, "fig2_linear": 1, "fig3_augmentations": 1, "linear_probe": n,
                    "pretrain": n, "shapes_data": 1, "cosine_study": 1, "fig5_sensitivity_s": n_sweeps,
                    "fig6_sensitivity_k": n_sweeps, "transfer_standins": 1, "transfer_linear": len(main),
                    "table1_transfer": 1, "fig4_radar": len(METHODS.names()), "table2_dense": 1, "claims": 1, "forest": 1,
                    "check_pretrain_images": 1,
                    "check_transfer_images": n_transfer, "training_curves": len(METHODS.names()), **dense}


@pytest.mark.dag_state
def test_dry_run_small_profile_dense_block(tmp_path):
    """config/small.yaml's dense block: VOC and COCO for SimCLR and MoCo v3, seeds 0-1, baseline,
    rescued and their floors, where Detectron2 is installed; none without it (Table 2 still made)."""
    runs = dense_runs(load_config(ROOT / "config" / "small.yaml"))
    assert len(runs) == 12 and sum("random_init" in r for r in runs) == 4
    (tmp_path / "wf").mkdir()
    wf = copy_workflow(tmp_path / "wf")
    if detectron2_available():
        out = snakemake("-n", "-c1", "--configfile", "config/small.yaml", cwd=wf).stdout
        jobs = jobs_of(out)
        assert (jobs["dense"], jobs["detectron2_weights"], jobs["dense_data"]) == (2 * len(runs), len(runs), 1)
        assert "results/small/eval/dense/simclr-resnet_tiny-random_init-seed1/coco.json" in out
    proc = snakemake("-n", "-c1", "--configfile", "config/small.yaml", cwd=wf, env=env_without_detectron2(tmp_path))
    jobs = jobs_of(proc.stdout)
    assert "table2_dense" in jobs and not {"dense", "detectron2_weights", "dense_data"} & set(jobs)


@pytest.mark.dag_state
def test_without_detectron2_dense_jobs_are_left_out_with_one_message(tiny_dry_run_without_detectron2):
    proc = tiny_dry_run_without_detectron2
    jobs = jobs_of(proc.stdout)
    assert "table2_dense" in jobs and not {"dense", "detectron2_weights", "dense_data"} & set(jobs)
    assert (proc.stdout + proc.stderr).count(DETECTRON2_MISSING) == 1


def test_dry_run_paper_profile(tmp_path):
    out = snakemake("-n", "-p", "-c1", "--configfile", "config/paper.yaml", cwd=copy_workflow(tmp_path)).stdout
    jobs = jobs_of(out)
    # paper.yaml replaces the default (tiny) config rather than being merged over it: no job sees a
    # tiny value, e.g. the tiny ViT's 32 px / patch 8 backbone options or the 32 px crops.
    assert '"patch_size": 8' not in out and '"image_size": 32' not in out and "shapes" not in out
    assert jobs["pretrain"] == jobs["linear_probe"] == n_runs("paper.yaml") and "shapes_data" not in jobs
    if detectron2_available():  # VOC and COCO per main run, on the data on disk
        assert jobs["dense"] == 2 * len(dense_runs(load_config(ROOT / "config" / "paper.yaml")))
        assert "dense_data" not in jobs
    main = [r for r in run_matrix(load_config(ROOT / "config" / "paper.yaml")).values() if "main" in r["groups"]]
    assert jobs["transfer_linear"] == len(main) * 10 and "transfer_standins" not in jobs  # Table 1: ten datasets
    assert "results/paper/eval/transfer/mocov3-vit_base-rescued-s0.05-k64-seed0/voc2007.json" in out
    assert "results/paper/pretrain/simclr-resnet50-rescued-s0.75-k128-seed0/backbone.pt" in out


def test_invalid_config_fails_naming_the_key(tmp_path):
    wf = copy_workflow(tmp_path)
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["train"]["ckpt_every_step"] = 5
    (wf / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "-c1", "--configfile", "bad.yaml", cwd=wf, check=False)
    assert proc.returncode != 0
    assert "train: unknown key(s) 'ckpt_every_step'" in proc.stdout + proc.stderr


@pytest.mark.dag_state
def test_lint_is_clean(tmp_path):
    """Snakemake's linter finds nothing: every rule names the project's pinned environment
    (environment.yml) as its conda env, the jobs call the interpreter that runs Snakemake."""
    proc = snakemake("--lint", cwd=copy_workflow(tmp_path), check=False)
    found = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("    * ")]
    assert proc.returncode == 0 and not found, found


# The mechanics profile of tiny_run: the tiny DAG on 64 / 64 images, every run 4 steps of 32 images; the
# transfer stand-ins 80 / 24 / 48 images.
N_TRAIN, N_VAL, BATCH, EPOCHS = 64, 64, 32, 2
TRANSFER_SIZES = {"n_train": 80, "n_val": 24, "n_test": 48}
# One method: every job kind of the DAG runs for SimCLR (tiny ResNet, main_lincls). The other methods
# run the same rules with other parameters; a method here costs its baseline, rescued run and
# random-init floor (and a ceiling per new backbone family), 3 jobs each of ~8 s of CPU, most of it
# torch's import. DINOv2 (the tiny ViT, its probe protocol) was the second method until the suite
# had to fit 8 minutes: its 12 jobs were 12 of the DAG's 28 torch processes. What it checked runs
# elsewhere: its plan in test_dry_run_tiny_profile; its step and probe protocol in
# tests/ssl_core/test_dinov2.py and tests/evaluations/test_linear_probe.py, its training through
# the CLI in tests/ssl_core/test_distributed.py (make test-processes); the whole DAG with every
# method in make reproduce.
MECHANICS_METHODS = ("simclr",)


def mechanics_config(wf: Path) -> dict:
    """The tiny profile cut down to its mechanics (a test-only profile, written in the test's copy):
    every job kind of the tiny DAG for the methods of MECHANICS_METHODS, each on a few images and
    steps (every run 4 steps, the probe 2 epochs). The sweep: tiny's (SimCLR), one seed, on the main
    recipe, so its baseline and its point at the main (s, k) are the main runs (a run shared by two
    groups): two values of s and two of k (2 runs of its own). Whether the models learn is not
    checked here: tests/test_learning.py (make check-learning)."""
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["experiments"] = [e for e in cfg["experiments"] if e["method"] in MECHANICS_METHODS]
    cfg["data"]["shapes"].update(n_train=N_TRAIN, n_val=N_VAL)
    cfg["data"]["dense"].update(n_train=N_TRAIN, n_test=min(N_VAL, cfg["data"]["dense"]["n_test"]))  # where Detectron2 is
    for method in cfg["methods"].values():
        method["recipe"].update(epochs=EPOCHS, batch_size=BATCH)
    cfg["references"]["supervised"].update(epochs=EPOCHS, batch_size=BATCH)
    cfg["sweeps"] = [s for s in cfg["sweeps"] if s["method"] in MECHANICS_METHODS]
    for sweep in cfg["sweeps"]:
        sweep.pop("recipe", None)
        sweep["seeds"] = [0]
        main = cfg["methods"][sweep["method"]]["rescue"]
        sweep["s"]["values"], sweep["k"]["values"] = sweep["s"]["values"][:2], sweep["k"]["values"][:2]
        sweep["s"]["k"], sweep["k"]["s"] = main["k"], main["s"]
    cfg["eval"]["linear"]["epochs"] = 2
    cfg["eval"]["transfer"]["standins"].update(TRANSFER_SIZES)
    return cfg


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The whole tiny DAG, end to end, on the mechanics profile (mechanics_config)."""
    wf = copy_workflow(tmp_path_factory.mktemp("dag"))
    (wf / "mechanics.yaml").write_text(yaml.safe_dump(mechanics_config(wf)))
    snakemake("-c2", "--configfile", "mechanics.yaml", cwd=wf)
    print(f"the mechanics DAG: {len(list((wf / 'results/tiny/benchmarks').rglob('*.tsv')))} benchmarked jobs")
    return wf


def test_tiny_dag_end_to_end(tiny_run):
    out = tiny_run / "results" / "tiny"
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns) == ["run", "group", "method", "arch", "variant", "s", "k", "seed", "task", "dataset",
                                     "metric", "value"]
    top1 = metrics[(metrics.task == "linear") & (metrics.metric == "top1")]
    runs = run_matrix(load_config(tiny_run / "mechanics.yaml"))
    assert sorted(zip(top1.run, top1.group)) == sorted((r, g) for r, s in runs.items() for g in s["groups"])
    assert top1.value.between(0, 100).all()
    for run, spec in runs.items():
        records = [json.loads(line) for line in (out / "pretrain" / run / "metrics.jsonl").read_text().splitlines()]
        if spec["variant"] in ("random_init", "supervised"):
            continue
        assert len(records) == spec["recipe"]["epochs"] * (N_TRAIN // spec["recipe"]["batch_size"]), run
        if spec["variant"] == "rescued":
            assert all("loss_topk" in r and "topk_sim" in r for r in records)
    table = pd.read_csv(out / "tables" / "fig2_linear.csv")
    ours = table.dropna(subset=["ours_top1"])
    assert set(zip(ours.method, ours.variant)) == {(s["method"], s["variant"]) for s in runs.values()}
    assert (ours.n_seeds == 1).all()  # the one main run of each row, no sweep run pooled in
    assert (table[table.method == "mugs"].status.str.startswith("not run")).all()
    tex = (out / "tables" / "fig2_linear.tex").read_text()
    assert r"\toprule" in tex and "Ours(SimCLR)" in tex
    for ext in ("pdf", "png"):
        assert (out / "figures" / f"fig2_params_vs_top1.{ext}").stat().st_size > 1000
    assert (out / "figures" / "fig3_augmentations.png").stat().st_size > 1000
    table2 = pd.read_csv(out / "tables" / "table2_dense.csv")
    published = table2[table2.source == "published"]
    assert len(published) == 6 and published.det_voc_AP.tolist()[:2] == [43.9, 46.4]
    ours = table2[table2.source == "ours"]
    dense = metrics[metrics.task.isin(["det_voc", "det_coco", "seg_coco"])]
    if detectron2_available():  # fine-tuned and evaluated: C4 ResNets (ViTDet: tests/evaluations/dense)
        assert sorted(dense.run.unique()) == sorted(dense_runs(load_config(tiny_run / "mechanics.yaml")))
        assert set(dense.arch) == {"resnet_tiny"}
        assert len(dense) == 9 * dense.run.nunique() and dense.value.between(0, 100).all()
        # every row of ours has all 9 numbers (MoCo v3's tiny ResNet stands in for its published ViT-B row)
        assert set(ours.method) == set(dense.method) and ours.ours_arch.notna().all()
        assert ours[table2.columns[-9:]].notna().all().all() and ours[table2.columns[-9:]].ge(0).all().all()
    else:
        assert dense.empty and ours.status.eq("not run: Detectron2 not installed").all()
    assert r"\underline" in (out / "tables" / "table2_dense.tex").read_text()
    cosine = pd.read_csv(out / "tables" / "cosine_study.csv")
    assert list(cosine.views) == ["common", "strong"] and list(cosine.published) == [0.7069, 0.669]
    assert cosine.ours.between(-1, 1).all()


def test_floor_and_ceiling_rows(tiny_run):
    """Every main (method, arch, seed) has its random-init floor and every arch its supervised
    ceiling in metrics.csv, through the same linear probe and transfer jobs as the runs."""
    out = tiny_run / "results" / "tiny"
    cfg = load_config(tiny_run / "mechanics.yaml")
    metrics = pd.read_csv(out / "metrics.csv")
    main = metrics[metrics.group == "main"]
    for exp in cfg["experiments"]:
        for seed in exp["seeds"]:
            floor = main[(main.variant == "random_init") & (main.method == exp["method"]) & (main.arch == exp["arch"])
                         & (main.seed == seed)]
            assert {"linear", "transfer_linear"} <= set(floor.task), (exp, seed)
            assert floor.s.isna().all() and floor.k.isna().all()
        ceiling = main[(main.variant == "supervised") & (main.arch == exp["arch"])]
        assert (ceiling.method == "supervised").all() and {"linear", "transfer_linear"} <= set(ceiling.task), exp
    table = pd.read_csv(out / "tables" / "fig2_linear.csv")
    assert {"random_init", "supervised"} <= set(table.variant)


def test_table1_and_fig4(tiny_run):
    out = tiny_run / "results" / "tiny"
    cfg = load_config(tiny_run / "mechanics.yaml")
    main = {r: s for r, s in run_matrix(cfg).items() if "main" in s["groups"]}
    datasets = cfg["eval"]["transfer"]["datasets"]
    metrics = pd.read_csv(out / "metrics.csv")
    # a run in two groups (the sweep's baseline is a main run here) has a row per group
    transfer = metrics[(metrics.task == "transfer_linear") & (metrics.group == "main")]
    assert sorted(zip(transfer.run, transfer.dataset)) == sorted((r, d) for r in main for d in datasets)
    assert transfer.value.between(0, 100).all()
    assert dict(zip(transfer.dataset, transfer.metric)) == {
        "shapes_top1": "top1", "shapes_mpc": "mean_per_class", "shapes_multilabel": "map11"}
    result = json.loads((out / "eval" / "transfer" / next(iter(main)) / "shapes_multilabel.json").read_text())
    assert {k: result[k] for k in TRANSFER_SIZES} == TRANSFER_SIZES and len(result["grid"]) == 5
    assert list((out / "features" / next(iter(main))).glob("shapes_top1/train-*.pt"))  # the feature cache

    table = pd.read_csv(out / "tables" / "table1_transfer.csv")
    paper = pd.read_csv(ROOT / "results" / "paper" / "table1_transfer.csv")
    published = table.dropna(subset=["published"])
    assert sorted(zip(published.method, published.variant, published.dataset, published.published)) == sorted(
        zip(paper.method, paper.variant, paper.dataset, paper.value))
    ours = table.dropna(subset=["ours"])
    assert set(zip(ours.method, ours.variant)) == {(s["method"], s["variant"]) for s in main.values()}
    assert set(ours.dataset) == set(datasets) and ours.published.isna().all() and table.delta.isna().all()
    for r in ours.itertuples():  # the table holds metrics.csv's numbers
        assert r.ours == pytest.approx(transfer[(transfer.method == r.method) & (transfer.variant == r.variant)
                                                & (transfer.arch == r.ours_arch) & (transfer.dataset == r.dataset)
                                                ].value.mean(), abs=1e-4)
    run_methods = {s["method"] for s in main.values()}
    assert (table[~table.method.isin(run_methods)].status == "not run in profile tiny").all()
    pairs = table[table.method.isin(run_methods) & table.variant.isin(["baseline", "rescued"])]
    published = set(pd.read_csv(ROOT / "results" / "paper" / "table1_transfer.csv").method)
    # a method of the paper is a scaled-down stand-in of its row; one the paper lacks (BYOL) is beyond it
    assert (pairs[pairs.method.isin(published)].status == "scaled-down stand-in").all()
    assert (pairs[~pairs.method.isin(published)].status == "beyond the paper").all()
    tex = (out / "tables" / "table1_transfer.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    ours_block = tex.split(r"\emph{Ours, profile tiny}")[1]
    assert r"shapes\_multilabel" in ours_block and "Ours(SimCLR)" in ours_block
    # bold: only the variant its paired interval shows better; underline: the best of each column
    significant = ours[(ours.gain_low > 0) & (ours.variant == "rescued") | (ours.gain_high < 0) & (ours.variant == "baseline")]
    assert ours_block.count(r"\textbf{") == len(significant) and ours_block.count(r"\underline{") >= len(datasets)
    for method in MECHANICS_METHODS:
        assert (out / "figures" / f"fig4_radar_{method}.png").stat().st_size > 1000
        assert (out / "figures" / f"fig4_radar_{method}.pdf").exists()


def test_sensitivity_figures(tiny_run):
    out = tiny_run / "results" / "tiny" / "figures"
    for method in [sweep["method"] for sweep in load_config(tiny_run / "mechanics.yaml")["sweeps"]]:
        for name in (f"fig5_sensitivity_s_{method}", f"fig6_sensitivity_k_{method}"):
            assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.pdf").exists()
            table = pd.read_csv(out / f"{name}.csv")
            # the sweep's baselines first (the s = 0 / k = 0 point, gain 0), then its 2 values as paired gains
            assert len(table) == 3 and table.iloc[0, 0] == 0 and table.gain.iloc[0] == 0
            assert table["mean"].between(0, 100).all() and table.n_pairs.eq(1).all()
            assert not table.collapsed.any(), name


def test_second_run_has_nothing_to_do(tiny_run):
    proc = snakemake("-n", "-c1", "--configfile", "mechanics.yaml", cwd=tiny_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_named_target_reruns_only_what_it_needs(tiny_run):
    (tiny_run / "results" / "tiny" / "tables" / "fig2_linear.tex").unlink()
    # the target before --configfile, which takes every path after it as a config file
    jobs = jobs_of(snakemake("results/tiny/tables/fig2_linear.tex", "-n", "-c1", "--configfile", "mechanics.yaml",
                             cwd=tiny_run).stdout)
    assert jobs == {"fig2_linear": 1}
    snakemake("results/tiny/tables/fig2_linear.tex", "-c1", "--configfile", "mechanics.yaml", cwd=tiny_run)  # restore


def test_report_captions_every_artifact(tiny_run):
    """`snakemake --report`: one self-contained HTML page with every figure and table captioned."""
    snakemake("--report", "report.html", "--configfile", "mechanics.yaml", cwd=tiny_run)
    html = (tiny_run / "report.html").read_text()
    for caption in (ROOT / "workflow" / "report").glob("fig*.rst"):
        first_words = " ".join(caption.read_text().split()[:4])
        assert first_words in html, caption.name
    for name in ("fig2_params_vs_top1.png", "fig2_linear.csv", "fig3_augmentations.png", "cosine_study.csv",
                 "fig5_sensitivity_s_simclr.png", "fig6_sensitivity_k_simclr.png", "forest.png"):
        assert name in html, name


def fake_finished_run(wf: Path) -> None:
    """The results/ of ``wf`` as a finished run of its DAG leaves them, in seconds: every output
    (Snakemake's --summary) as an empty file, or a folder for the folder outputs (the data rules'
    paths, the only ones without a suffix), then --touch dates them in the DAG's order."""
    for line in snakemake("--summary", "-c1", cwd=wf).stdout.splitlines()[1:]:
        path = wf / line.split("\t")[0]
        path.mkdir(parents=True, exist_ok=True) if not path.suffix else (
            path.parent.mkdir(parents=True, exist_ok=True), path.touch())
    snakemake("--touch", "-c1", cwd=wf)


def test_interim_tables_of_the_finished_runs(tiny_run, tmp_path):
    """`python -m evaluations interim`: a profile built in parts gets its tables from the runs finished so far."""
    from evaluations.__main__ import main as evaluations_main

    out, part = tiny_run / "results" / "tiny", tmp_path / "results" / "tiny"
    runs = run_matrix(load_config(tiny_run / "mechanics.yaml"))
    # the finished part: SimCLR's runs but one of its sweep's own (its sweep unfinished); not the ceiling
    sweep_only = sorted(r for r, s in runs.items() if s["groups"] == ["sens"] and s["method"] == "simclr")
    unfinished = {r for r, s in runs.items() if s["method"] != "simclr"} | {sweep_only[0]}
    for run in runs:
        if run not in unfinished:
            shutil.copytree(out / "pretrain" / run, part / "pretrain" / run)
            (part / "eval" / "linear").mkdir(parents=True, exist_ok=True)
            shutil.copy(out / "eval" / "linear" / f"{run}.json", part / "eval" / "linear")
    transferred = sorted(r for r in runs if r not in unfinished and (out / "eval" / "transfer" / r).is_dir())
    for run in transferred[1:]:  # the first one's transfer job unfinished: none of its cells enter
        shutil.copytree(out / "eval" / "transfer" / run, part / "eval" / "transfer" / run)
    shutil.copytree(out / "tables", part / "tables",
                    ignore=shutil.ignore_patterns("claims.*", "fig2*", "table1*", "table2*"))
    # dense jobs (Detectron2's JSONs, written here: CI has no Detectron2): the first finished run has
    # both tasks, the second only VOC (unfinished: neither enters)
    dense = [r for r in select_dense_runs(load_config(tiny_run / "mechanics.yaml"), runs) if r not in unfinished]
    for run, tasks in ((dense[0], ("voc", "coco")), (dense[1], ("voc",))):
        for task in tasks:
            rows = [("det_voc", m) for m in ("AP", "AP50", "AP75")] if task == "voc" else [
                (t, m) for t in ("det_coco", "seg_coco") for m in ("AP", "AP50", "AP75")]
            write_json(part / "eval" / "dense" / run / f"{task}.json", {"run": run, "task": f"dense_{task}", "metrics": [
                {"task": t, "dataset": f"shapes_{task}", "metric": m, "value": 10.0} for t, m in rows]})
    evaluations_main(["interim", "--configfile", str(tiny_run / "mechanics.yaml"), "--results", str(part),
                      "--paper-dir", str(ROOT / "results" / "paper")])
    metrics = pd.read_csv(part / "metrics.csv")
    assert set(metrics.run) == set(runs) - unfinished and set(metrics.method) == {"simclr"}
    assert set(metrics[metrics.task == "transfer_linear"].run) == set(transferred[1:])
    assert set(metrics[metrics.task.str.startswith(("det_", "seg_"))].run) == {dense[0]}
    table2 = pd.read_csv(part / "tables" / "table2_dense.csv")
    assert table2[(table2.source == "ours") & (table2.n_seeds > 0)].det_voc_AP.tolist() == [10.0]
    fig2 = pd.read_csv(part / "tables" / "fig2_linear.csv").dropna(subset=["ours_top1"])
    assert set(fig2.method) == {"simclr"}
    table1 = pd.read_csv(part / "tables" / "table1_transfer.csv")
    assert set(table1.dropna(subset=["ours"]).method) == {"simclr"}
    assert (part / "figures" / "fig4_radar_simclr.png").is_file()
    claims = pd.read_csv(part / "tables" / "claims.csv")
    simclr = claims[claims.claim.str.contains("SimCLR") & claims.claim.str.contains("linear")]
    assert not simclr.empty and not simclr.verdict.str.startswith("not run").all()
    best_s = "SimCLR ResNet-50: best s (Fig. 5)"
    whole = pd.read_csv(out / "tables" / "claims.csv").set_index("claim")
    assert "sens" in whole.ours_run[best_s]  # the whole DAG's sweep ...
    assert claims.set_index("claim").verdict[best_s].startswith("not run")  # ... a point short in the part
    assert not (part / "figures" / "fig5_sensitivity_s_simclr.png").exists()  # its sweep unfinished
    assert (part / "figures" / "forest.png").stat().st_size > 1000
    assert (part / "figures" / "training_curves_simclr.png").is_file()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root``: its path relative to ``root`` -> its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_dag_state_tests_pass_beside_a_finished_run(tmp_path):
    """`make test` after `make reproduce` in one clone (CI's clean clone cannot see it): the tests
    that run Snakemake (marked dag_state) see the same DAG beside a finished tiny run. They run it
    in a copy of the workflow (copy_workflow; snakemake() refuses the repository itself): the copy
    made from a clone whose results/ hold a finished tiny run (snakemake -n: nothing to be done) is
    file for file the copy made from this checkout, so their plans cannot differ."""
    clone = copy_workflow(tmp_path / "clone", REPOSITORY)
    fake_finished_run(clone)
    done = snakemake("-n", cwd=clone)
    assert "Nothing to be done" in done.stdout + done.stderr  # the state a finished reproduction leaves
    assert any((clone / "results" / "tiny").rglob("backbone.pt"))
    beside, fresh = (copy_workflow(tmp_path / name, source=source) for name, source in
                     (("beside", clone), ("fresh", ROOT)))
    assert tree(beside) == tree(fresh)
    assert not (beside / "results" / "tiny").exists()


def test_dry_run_cifar_profile(tmp_path):
    """The cifar profile validates, downloads every dataset it reads (CIFAR-10 for pretraining and
    the seven transfer sets, CIFAR-10 once) before any job reads it, and has no tiny-profile sweeps
    merged in."""
    wf = copy_workflow(tmp_path)
    out = snakemake("-n", "-c1", "--configfile", "config/cifar.yaml", cwd=wf).stdout
    jobs = jobs_of(out)
    assert jobs["pretrain"] == jobs["linear_probe"] == n_runs("cifar.yaml") == 9  # 6 runs and 3 floors
    sets = load_config(ROOT / "config" / "cifar.yaml")["eval"]["transfer"]["datasets"]
    assert "cifar10" in sets and len(sets) == 7 and jobs["transfer_linear"] == 9 * 7
    assert jobs["download_data"] == jobs["check_transfer_images"] == 7 and jobs["check_pretrain_images"] == 1
    assert all(f"results/cifar/data/downloaded/{name}.json" in out for name in sets)
    assert "shapes_data" not in jobs and "fig5_sensitivity_s" not in jobs
    # One Table 1 cell needs its set downloaded and checked, and the pretraining set's, first.
    cell = "results/cifar/eval/transfer/simclr-resnet18_cifar-baseline-seed0/dtd.json"
    assert jobs_of(snakemake("-n", "-c1", cell, "--configfile", "config/cifar.yaml", cwd=wf).stdout) == {
        "download_data": 2, "check_pretrain_images": 1, "check_transfer_images": 1, "pretrain": 1, "transfer_linear": 1}
    assert "results/cifar/pretrain/mocov3-vit_small-rescued-s0.05-k4-seed0/backbone.pt" in out
    budget = jobs_of(snakemake("-n", "-c1", "results/cifar/compute_budget.csv", "--configfile", "config/cifar.yaml",
                               cwd=wf).stdout)
    assert budget == {"compute_budget": 1}
    # Only the cifar profile downloads.
    for name in ("config.yaml", "paper.yaml"):
        assert not load_config(ROOT / "config" / name)["data"]["pretrain"].get("download", False)
