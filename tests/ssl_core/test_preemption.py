"""Pretraining stops resumably on the signal SLURM sends before a time limit (``--signal=USR1@120``)
or on SIGTERM: it checkpoints at the next step, exits with RESUME_EXIT_CODE, and the retried job
ends with the weights of an uncut run (issue 37 item 3)."""
from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssl_core.io import load_torch
from ssl_core.preemption import RESUME_EXIT_CODE, SIGNALS, Preempted, Preemption, job_deadline
from ssl_core.training import pretrain

from conftest import ROOT, StopAt
from test_trainer import make_spec




@pytest.mark.parametrize("signum", SIGNALS)
def test_the_handler_records_the_signal_and_the_old_handler_comes_back(signum):
    before = signal.getsignal(signum)
    with Preemption() as p:
        assert not p.requested
        os.kill(os.getpid(), signum)
        assert p.requested and p.signum == signum
    assert signal.getsignal(signum) == before
    with Preemption(raise_now=True), pytest.raises(Preempted):
        os.kill(os.getpid(), signum)
        time.sleep(1)  # the handler runs between bytecodes


def _weights(out):
    return load_torch(out / "backbone.pt")["state_dict"]


def test_a_signalled_run_checkpoints_at_that_step_and_resumes_to_the_uncut_weights(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder, "rescued")  # 8 steps, checkpoints every 3
    assert pretrain(spec, tmp_path / "full", tmp_path / "ckpt_full")
    assert not pretrain(spec, tmp_path / "cut", tmp_path / "ckpt", preemption=StopAt(4))
    assert load_torch(tmp_path / "ckpt" / "last.pt")["step"] == 4  # not a checkpoint step: saved on the signal
    assert not (tmp_path / "cut" / "backbone.pt").exists()
    assert pretrain(spec, tmp_path / "cut", tmp_path / "ckpt")
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    # where the scheduler stopped it, in the run's record; none in the uncut run's
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["stops"] == [{"step": 4, "why": "SIGUSR1"}]
    assert json.loads((tmp_path / "full" / "run.json").read_text())["stops"] == []


def test_the_pretrain_job_sent_sigusr1_exits_resumably_and_resumes(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder, "baseline", epochs=10)  # 40 steps
    spec["train"]["ckpt_every_steps"] = 5
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "ssl_core", "pretrain", "--spec", json.dumps(spec),
                             "--out", str(tmp_path / "cut"), "--ckpt", str(ckpt), "--threads", "1"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (ckpt / "last.pt").exists():  # training has started (the handler is installed before)
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    log = proc.communicate(timeout=120)[0]
    assert proc.returncode == RESUME_EXIT_CODE, log
    assert "received SIGUSR1" in log
    stopped = load_torch(ckpt / "last.pt")["step"]
    assert 0 < stopped < 40
    assert not (tmp_path / "cut" / "backbone.pt").exists()
    assert pretrain(spec, tmp_path / "cut", ckpt)  # the retried job
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["stops"] == [{"step": stopped, "why": "SIGUSR1"}]
    assert pretrain(spec, tmp_path / "full", tmp_path / "ckpt_full")
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_the_jobs_end_stops_it_without_a_signal(tmp_path, monkeypatch):
    """squeue's end time of $SLURM_JOB_ID, less SSL_STOP_BEFORE_END_S: the stop comes even when no
    signal reaches the Python process (a parent killed by SIGUSR1 before it)."""
    squeue = tmp_path / "squeue"
    squeue.write_text('#!/bin/sh\n[ "$1 $2 $3 $4 $5" = "-h -j 4242 -o %S|%e" ] && echo "$START|2030-01-02T03:04:05"\n')
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.delenv("SSL_DEADLINE", raising=False)
    monkeypatch.setenv("SSL_STOP_BEFORE_END_S", "300")
    from datetime import datetime

    monkeypatch.setenv("START", "2030-01-01T03:04:05")  # a 1-day job: the full margin
    assert job_deadline() == datetime(2030, 1, 2, 3, 4, 5).timestamp() - 300
    monkeypatch.setenv("START", "2030-01-02T03:03:05")  # a 1-minute job: a quarter of it, not 300 s
    assert job_deadline() == datetime(2030, 1, 2, 3, 4, 5).timestamp() - 15
    monkeypatch.setenv("SSL_STOP_BEFORE_END_S", "0")  # no stop of its own: SLURM's SIGTERM at the limit
    assert job_deadline() is None
    monkeypatch.setenv("SSL_STOP_BEFORE_END_S", "300")
    monkeypatch.setenv("SSL_DEADLINE", str(time.time() + 300.4))  # the end 300.4 s away: stop in 0.4 s
    with Preemption() as p:
        assert not p.requested
        time.sleep(0.5)
        assert p.requested
    monkeypatch.delenv("SSL_DEADLINE")
    monkeypatch.delenv("SLURM_JOB_ID")
    assert job_deadline() is None  # outside SLURM: signals only


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.processes  # make test-processes (CI), left out of make test for its time
def test_a_signal_to_one_of_two_torchrun_processes_stops_both_at_one_step(tiny_folder, tmp_path):
    """SLURM signals every process of a job step, but not at the same instant: the one that sees it
    first stops the other at the same step (a max over the group), so neither waits forever in a
    collective; the retried torchrun job finishes the run. A rescued run, the default per-process
    top-k: k = 4 split over the 2 processes, 2 pairs each (the split's refusal of an odd k:
    tests/ssl_core/test_distributed.py)."""
    spec = make_spec(tiny_folder, "rescued", epochs=8)  # 32 steps of 2 x 4 images
    spec["train"]["ckpt_every_steps"] = 5
    ckpt = tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ssl_core",
           "pretrain", "--spec", json.dumps(spec), "--out", str(tmp_path / "out"), "--ckpt", str(ckpt)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    agent = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not (ckpt / "last.pt").exists():
        assert agent.poll() is None, agent.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(_children(agent.pid)[0], signal.SIGUSR1)  # one worker only
    log = agent.communicate(timeout=240)[0]
    codes = re.findall(r"exitcode\s*:\s*(-?\d+)", log)
    assert agent.returncode != 0 and "3" in codes and set(codes) <= {"3", "-15"}, log[-3000:]
    assert 0 < load_torch(ckpt / "last.pt")["step"] < 32
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_torch(ckpt / "last.pt")["step"] == 32
    assert "loss_topk" in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()[-1]
    assert (tmp_path / "out" / "backbone.pt").exists()
