"""Multi-process training through the command the pretrain rule and a SLURM job run: 2 gloo
processes on CPU must train like 1 process with the same global batch: the same loss step by step (relative
1e-5) and the same weights up to the order of float sums (relative 1e-4)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from ssl_core.config import validate_spec
from ssl_core.io import load_torch
from ssl_core.training import pretrain
from ssl_core.training.step import check_processes
from tests.ssl_core.test_trainer import make_spec


def _run(spec, out, ckpt, nproc):
    cmd = [sys.executable, "-m", "ssl_core", "pretrain", "--spec", json.dumps(spec), "--out", str(out),
           "--ckpt", str(ckpt)]
    if nproc > 1:
        # torchrun's single-node rendezvous on a free port; the same entry point a SLURM job runs.
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] + cmd[1:]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _baseline_spec(method, root):
    if method.endswith("-rescued-global"):
        # The global top-k with the common-view BatchNorm rule: the same k pairs, the same strong
        # views and their normalisation on 2 processes as on 1 (k = 3: odd, so one process holds more).
        from tests.ssl_core.test_batchnorm import spec_of

        spec = spec_of(root, method.split("-")[0], "rescued", 3)
        spec["rescue"]["topk"] = "global"
        return spec
    from tests.ssl_core.test_dinov2 import RECIPE, dinov2_spec

    # DINOv2 with either centering: the centre and the Sinkhorn-Knopp sums are all-reduced, so 2
    # processes match 1. iBOT's masks (drawn per process's batch, as the official collate), KoLeo
    # (per process's batch, as the official loss) and stochastic depth are per process, so off here.
    return dinov2_spec(root, "baseline", epochs=1, centering=method.split("-")[1], ibot_loss_weight=0.0,
                       koleo_loss_weight=0.0, backbone={**RECIPE["backbone"], "drop_path_rate": 0.0})


# SimCLR's baseline is not a case of its own: its loss (the gathered negatives) is the SSL part of
# simclr-rescued-global's loss, compared step by step there (3 processes of ~6 s of torch import each per case).
@pytest.mark.processes  # make test-processes (CI), left out of make test for its time
@pytest.mark.parametrize("method", ["dinov2-centering", "dinov2-sinkhorn_knopp", "simclr-rescued-global",
                                    "mocov3-rescued-global"])
def test_two_gloo_processes_match_one_process(tiny_folder, tmp_path, method):
    spec = _baseline_spec(method, tiny_folder)
    spec["train"]["ckpt_every_steps"] = 2
    # the one process in this one (the suite's time: each process started costs ~6 s of torch import),
    # with the spec the CLI would validate; torch's threads are 1 here as in the workers (conftest)
    assert pretrain(validate_spec(spec), tmp_path / "one", tmp_path / "ckpt1")
    two = _run(spec, tmp_path / "two", tmp_path / "ckpt2", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    r1, r2 = _records(tmp_path / "one" / "metrics.jsonl"), _records(tmp_path / "two" / "metrics.jsonl")
    assert [r["step"] for r in r1] == [r["step"] for r in r2] == [0, 1, 2, 3]
    for a, b in zip(r1, r2):  # the loss of the global batch, step by step
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5, abs=1e-6)
        for key in ("loss_topk", "topk_sim", "strong_sim"):  # rescued runs: the same pairs, the same term
            assert (key in a) == (key in b) and b.get(key, 0) == pytest.approx(a.get(key, 0), rel=1e-5, abs=1e-6)
    w1 = load_torch(tmp_path / "one" / "backbone.pt")["state_dict"]
    w2 = load_torch(tmp_path / "two" / "backbone.pt")["state_dict"]
    assert w1.keys() == w2.keys()
    for key in w1:  # same gradients every step => same weights (up to float summation order)
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-4, atol=1e-5, msg=key)
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["world_size"] == 2 and info["steps"] == 4


def test_a_k_the_processes_cannot_split_is_refused_before_the_first_step(tiny_folder):
    """The default per-process top-k takes k / P pairs on each process: a k that P does not divide is
    refused by the check every process makes before its first step. A rescued run split over 2
    processes (k = 4, 2 each), stopped and resumed under torchrun: tests/ssl_core/test_preemption.py."""
    spec = make_spec(tiny_folder, "rescued", epochs=1)
    spec["k"] = 3
    with pytest.raises(ValueError, match="k 3 must be divisible by the 2 processes"):
        check_processes(spec, 2)
    spec["k"] = 4
    check_processes(spec, 2)
