"""The CI cut of the paper_smoke profile (config/paper_smoke.yaml; `make smoke` runs it whole).

- The profile is the paper's at smoke scale: every run's recipe equals the paper run's but for the
  scale keys, and the runs are the paper's architectures at 224 px.
- A dry run of the whole smoke DAG has every job kind of the paper DAG (dense where Detectron2 is
  installed; otherwise left out with its reason), and a training job for each architecture.
- The first jobs run for real: the miniature trees and every data check before any training.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluations.dense import DETECTRON2_MISSING, detectron2_available
from ssl_core.config import load_config, run_matrix
from tests.conftest import ROOT
from tests.test_workflow import copy_workflow, jobs_of, snakemake

# What the smoke may change in a run's recipe (config/paper_smoke.yaml's header): images per batch,
# steps, the warm-ups that must fit in them, and the rescue k that must fit in the batch.
SCALE_KEYS = {"batch_size", "epochs", "epoch_length", "warmup_epochs", "warmup_teacher_temp_epochs",
              "freeze_last_layer_epochs"}
PAPER_ARCHS = {"resnet50", "vit_small", "vit_base", "vit_large"}


@pytest.fixture(scope="module")
def configs():
    return load_config(ROOT / "config" / "paper.yaml"), load_config(ROOT / "config" / "paper_smoke.yaml")


def _by_role(config) -> dict[tuple, dict]:
    return {(r["method"], r["arch"], r["variant"]): r for r in run_matrix(config).values()}


def test_smoke_is_the_paper_profile_at_smoke_scale(configs):
    paper, smoke = configs
    paper_runs, smoke_runs = _by_role(paper), _by_role(smoke)
    assert set(smoke_runs) == set(paper_runs)  # every main run, floor and variant of the paper
    assert {arch for _, arch, _ in smoke_runs} == PAPER_ARCHS
    for role, run in smoke_runs.items():
        ours, theirs = run["recipe"], paper_runs[role]["recipe"]
        assert ours["image_size"] == 224
        changed = {k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
        assert changed <= SCALE_KEYS, (role, changed - SCALE_KEYS)
    # the non-scale evaluation settings are the paper's
    for key in ("protocol", "base_lr", "augment"):
        assert smoke["eval"]["linear"][key] == paper["eval"]["linear"][key]
    for key in ("datasets", "image_size", "resize", "standardize"):
        assert smoke["eval"]["transfer"][key] == paper["eval"]["transfer"][key]
    assert [(s["method"], s["arch"]) for s in smoke["sweeps"]] == [(s["method"], s["arch"]) for s in paper["sweeps"]]


@pytest.fixture(scope="module")
def smoke_dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dry")
    paper = snakemake("-n", "-c1", "--configfile", "config/paper.yaml", cwd=copy_workflow(tmp / "paper"))
    smoke = snakemake("-n", "-p", "-c1", "--configfile", "config/paper_smoke.yaml", cwd=copy_workflow(tmp / "smoke"))
    return jobs_of(paper.stdout), smoke


def test_smoke_dag_has_every_job_kind_and_architecture(smoke_dry_run):
    paper_jobs, proc = smoke_dry_run
    jobs = jobs_of(proc.stdout)
    assert set(paper_jobs) | {"miniature_data"} == set(jobs)  # both without or both with Detectron2
    # miniature data first, every data check before any training (VOC / COCO where dense jobs read them)
    assert {"miniature_data", "check_pretrain_images"} <= set(jobs) and jobs["check_transfer_images"] == 10
    assert ("check_dense_data" in jobs) == detectron2_available()
    runs = run_matrix(load_config(ROOT / "config" / "paper_smoke.yaml"))
    assert jobs["pretrain"] == jobs["linear_probe"] == len(runs)
    for arch in PAPER_ARCHS:
        assert f"-{arch}-" in proc.stdout


def test_smoke_dag_dense_jobs(smoke_dry_run):
    _, proc = smoke_dry_run
    jobs = jobs_of(proc.stdout)
    if not detectron2_available():
        assert "dense" not in jobs and DETECTRON2_MISSING in proc.stderr
        pytest.skip(f"dense jobs left out of the smoke DAG: {DETECTRON2_MISSING}")
    assert jobs["dense"] > 0 and jobs["detectron2_weights"] > 0 and jobs["check_dense_data"] == 1


def test_smoke_data_jobs_run_before_training(tmp_path):
    """The DAG's first rule writes the miniature trees in the real layouts; the checks of the
    pretraining set (4 class folders, every JPEG decoded, the CMYK and greyscale ones included), of
    VOC + COCO and of one transfer set pass on them."""
    wf = copy_workflow(tmp_path)
    out = "results/paper_smoke/data/checked"
    snakemake(f"{out}/pretrain.json", f"{out}/dense.json", f"{out}/transfer/dtd.json", "-c1",
              "--configfile", "config/paper_smoke.yaml", cwd=wf)
    pretrain = json.loads((wf / out / "pretrain.json").read_text())
    assert pretrain["n_images"] == pretrain["n_decoded"] == 32
    dense = json.loads((wf / out / "dense.json").read_text())
    assert dense["voc"]["2007_test"] > 0 and dense["coco"]["val2017"]["annotations"] > 0
    assert (wf / out / "transfer" / "dtd.json").is_file()
    assert (wf / "results/paper_smoke/data/miniature/imagenet/train").is_dir()
