"""The linear probe resumes: killed (SIGKILL) or signalled (SLURM's --signal, SIGUSR1) midway and
restarted, it ends with the result of an uncut probe (issue 37 item 3)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from evaluations.__main__ import main as evaluations_main
from evaluations.linear_probe import CHECKPOINT, train_linear_probe
from ssl_core.backbones import build_backbone
from ssl_core.config import load_config, run_matrix, training_spec
from ssl_core.io import load_torch, save_torch
from ssl_core.preemption import RESUME_EXIT_CODE, Preempted

from conftest import ROOT, StopAt
from test_linear_probe import HalvesViT, _halves_folder


@pytest.fixture
def halves(tmp_path):
    _halves_folder(tmp_path / "data" / "train", 20, 0)
    _halves_folder(tmp_path / "data" / "val", 8, 1)
    return {"name": "shapes", "root": str(tmp_path / "data"), "num_workers": 0}




@pytest.mark.parametrize("augment", [False, True])
def test_a_signalled_dinov2_probe_resumes_to_the_uncut_result(halves, tmp_path, augment):
    cfg = {"protocol": "dinov2", "epochs": 3, "epoch_length": 4, "batch_size": 8, "augment": augment,
           "base_lr": 0.1, "learning_rates": [1e-2, 1.0], "n_last_blocks": [1, 2], "select_on": "train_holdout",
           "holdout_fraction": 0.25, "ckpt_every_steps": 5}
    probe = dict(image_size=16, seed=4)
    uncut = train_linear_probe(HalvesViT(), halves, cfg, **probe)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Preempted):  # the signal at iteration 7 of 12: saved there, mid-pass
        train_linear_probe(HalvesViT(), halves, cfg, **probe, ckpt_dir=ckpt, preemption=StopAt(7))
    assert load_torch(ckpt / CHECKPOINT)["step"] == 7
    resumed = train_linear_probe(HalvesViT(), halves, cfg, **probe, ckpt_dir=ckpt)
    assert resumed == uncut
    # a state of another probe (here another seed) is set aside, not resumed from
    other = train_linear_probe(HalvesViT(), halves, cfg, image_size=16, seed=5, ckpt_dir=ckpt)
    assert (ckpt / f"{CHECKPOINT}.set-aside").exists() and other["iterations"] == 12


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evaluations", *argv], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_new_checkpoint(path: Path, proc: subprocess.Popen, after: float, timeout: float = 120) -> None:
    """Until ``path`` is (re)written after ``after`` by a running ``proc``."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_mtime > after):
        assert proc.poll() is None, f"the probe ended before writing its checkpoint:\n{proc.stdout.read()}"
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)


def test_the_probe_job_killed_then_signalled_resumes_to_the_uncut_result(halves, tmp_path):
    config = load_config(ROOT / "config" / "config.yaml")
    spec = training_spec(next(s for s in run_matrix(config).values() if s["variant"] == "baseline"))
    spec["data"] = halves
    spec["recipe"]["image_size"] = 16
    spec["train"]["device"] = "cpu"
    torch.manual_seed(0)
    backbone = tmp_path / "backbone.pt"
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": build_backbone("resnet_tiny").state_dict()}, backbone)
    # the paper's settings (main_lincls, augment: true) at 16 px; 150 iterations, a checkpoint every 5
    cfg = {"epochs": 30, "batch_size": 8, "base_lr": 0.3, "augment": True, "ckpt_every_steps": 5}
    argv = ["linear", "--backbone", str(backbone), "--spec", json.dumps(spec), "--config-json", json.dumps(cfg)]
    evaluations_main(argv + ["--out", str(tmp_path / "uncut.json"), "--predictions", str(tmp_path / "uncut.csv.gz")])

    ckpt, state = tmp_path / "ckpt", tmp_path / "ckpt" / CHECKPOINT
    cut = argv + ["--out", str(tmp_path / "cut.json"), "--predictions", str(tmp_path / "cut.csv.gz"), "--ckpt", str(ckpt)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    first = _start(cut, env)  # killed outright after its first checkpoint
    _wait_for_new_checkpoint(state, first, 0.0)
    first.kill()
    first.wait()
    killed_at = load_torch(state)["step"]
    second = _start(cut, env)  # resumed, then sent what SLURM sends before the time limit
    _wait_for_new_checkpoint(state, second, state.stat().st_mtime)
    second.send_signal(signal.SIGUSR1)
    log = second.communicate(timeout=120)[0]
    assert second.returncode == RESUME_EXIT_CODE, log
    signalled_at = load_torch(state)["step"]
    assert 0 < killed_at < signalled_at < 150 and "received SIGUSR1" in log
    assert not (tmp_path / "cut.json").exists()  # an unfinished probe writes no result
    evaluations_main(cut)  # the retried job
    assert json.loads((tmp_path / "cut.json").read_text()) == json.loads((tmp_path / "uncut.json").read_text())
    assert (tmp_path / "cut.csv.gz").read_bytes() == (tmp_path / "uncut.csv.gz").read_bytes()
    assert not ckpt.exists()  # the finished probe's state is removed
