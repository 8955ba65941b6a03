"""A transfer job stopped by SLURM's signal (SIGUSR1 before the time limit, or SIGTERM) exits 3 at
once; the retried job reads the splits already extracted from the feature cache and writes the
result of an uncut job (issue 37 item 3)."""
from __future__ import annotations

import json
import os
import signal

import torch
from torch import nn

import ssl_core.backbones
from evaluations.__main__ import main as evaluations_main
from ssl_core.preemption import RESUME_EXIT_CODE
from evaluations.transfer import replicas as R


class SignalledNet(nn.Module):
    """A backbone that, at forward call ``signal_at`` (None: never), receives SIGUSR1 as from SLURM."""

    def __init__(self, signal_at: int | None):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(6, 5)
        self.calls, self.signal_at = 0, signal_at

    def forward(self, x):
        self.calls += 1
        if self.calls == self.signal_at:
            os.kill(os.getpid(), signal.SIGUSR1)
        return self.proj(torch.cat([x.mean((2, 3)), x.std((2, 3))], 1))


def test_a_signalled_transfer_job_exits_resumably_and_resumes_from_its_cache(tmp_path, monkeypatch):
    R.make_dtd(tmp_path / "data")
    weights = tmp_path / "backbone.pt"
    weights.write_bytes(b"the cache key reads these bytes")
    cfg = {"data_root": str(tmp_path / "data"), "image_size": 8, "resize": 8, "batch_size": 4, "num_workers": 0,
           "grid": {"min": 0.01, "max": 100.0, "num": 3}}

    def run(net, name):
        monkeypatch.setattr(ssl_core.backbones, "load_backbone", lambda path: net)
        return evaluations_main(["transfer", "--backbone", str(weights), "--run", "r", "--dataset", "dtd",
                                 "--config-json", json.dumps(cfg), "--device", "cpu", "--cache-dir",
                                 str(tmp_path / name), "--threads", "1", "--out", str(tmp_path / f"{name}.json")])

    assert run(SignalledNet(None), "uncut") == 0
    cut = SignalledNet(3)  # train = 2 batches of 4; the signal arrives in the val split's first batch
    assert run(cut, "cut") == RESUME_EXIT_CODE
    assert not (tmp_path / "cut.json").exists()
    assert len(list((tmp_path / "cut" / "dtd").iterdir())) == 1  # train's features, cached atomically
    resumed = SignalledNet(None)
    assert run(resumed, "cut") == 0
    assert resumed.calls == 1 + 3  # the batches of val and test only: train came from the cache
    result, uncut = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("cut", "uncut"))
    assert result.pop("cache_hits") == {"train": True, "val": False, "test": False}
    uncut.pop("cache_hits")
    assert result == uncut
