"""Every collective's tensors on the process group's device, checked without a GPU.

Under NCCL (what ``ssl_core.distributed.init_from_env`` starts on CUDA) a collective takes CUDA
tensors only: a CPU tensor raises at the first step of a multi-GPU run. Here the process group is
reported as NCCL with 2 processes (``torch.distributed``'s ``is_initialized``, ``get_backend``,
``get_world_size``, ``get_rank`` patched), every collective is intercepted and records the
devices of its tensors, and the training code runs on fake CUDA tensors (torch's
``FakeTensorMode``: shapes and devices without a device or data). Each collective site of the
step must see only ``cuda`` tensors: the logged scalars' mean, the gradient all-reduce, SimCLR's
and MoCo v3's gathers, DINOv2's centre and Sinkhorn-Knopp sums, the global top-k of the rescue
term and the CPU processes' synchronised BatchNorm.
"""
from __future__ import annotations

import pytest
import torch
import torch.distributed as tdist
from torch._subclasses.fake_tensor import FakeTensorMode

from ssl_core import distributed

CUDA = torch.device("cuda", 0)


class Recorder:
    """Stands in for the collectives of a 2-process NCCL group; records every tensor's device."""

    def __init__(self):
        self.calls: list[tuple[str, list[torch.device]]] = []

    def _record(self, name, *tensors):
        flat = []
        for t in tensors:
            flat += list(t) if isinstance(t, (list, tuple)) else [t]
        devices = [t.device for t in flat if isinstance(t, torch.Tensor)]
        self.calls.append((name, devices))
        # as NCCL does: a tensor off the GPU fails the collective there and then
        assert all(d.type == "cuda" for d in devices), f"{name} given tensors on {devices} under NCCL"

    def all_reduce(self, tensor, op=None, group=None, async_op=False):
        self._record("all_reduce", tensor)

    def all_gather(self, tensor_list, tensor, group=None, async_op=False):
        self._record("all_gather", tensor_list, tensor)
        for out in tensor_list:
            out.copy_(tensor)

    def all_gather_into_tensor(self, output, tensor, group=None, async_op=False):
        self._record("all_gather_into_tensor", output, tensor)

    def broadcast(self, tensor, src=0, group=None, async_op=False):
        self._record("broadcast", tensor)

    def off_device(self):
        return [(name, devices) for name, devices in self.calls if any(d.type != "cuda" for d in devices)]


@pytest.fixture
def nccl(monkeypatch):
    """A 2-process NCCL group as the training code sees it; its collectives recorded."""
    rec = Recorder()
    monkeypatch.setattr(tdist, "is_available", lambda: True)
    monkeypatch.setattr(tdist, "is_initialized", lambda: True)
    monkeypatch.setattr(tdist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(tdist, "get_rank", lambda group=None: 0)
    monkeypatch.setattr(tdist, "get_backend", lambda group=None: "nccl")
    monkeypatch.setenv("LOCAL_RANK", "0")
    for name in ("all_reduce", "all_gather", "all_gather_into_tensor", "broadcast"):
        monkeypatch.setattr(tdist, name, getattr(rec, name))
    return rec


def _fake():
    return FakeTensorMode(allow_non_fake_inputs=True)


def _up_to_data_dependence(fn, *args):
    """Run ``fn`` on fake tensors until an op whose output size depends on values (a boolean mask,
    ``nonzero``), which fake tensors cannot run; every collective before it has been recorded."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - only the fake tensors' own limits are let through
        if "DynamicOutputShape" not in type(e).__name__ and "DataDependent" not in type(e).__name__:
            raise


def _assert_on_device(rec, expected_calls):
    assert set(expected_calls) <= {name for name, _ in rec.calls}, f"expected {expected_calls}, saw {rec.calls}"
    assert not rec.off_device(), f"collectives given tensors off the NCCL group's device: {rec.off_device()}"


def test_logged_floats_are_averaged_on_the_groups_device(nccl):
    """Python floats (what the step logged before its logs stayed on the device) reduced on the GPU:
    a float64 CPU tensor here raised at step 0 of every multi-GPU run."""
    with _fake():
        out = distributed.mean_over_processes({"loss": 1.5, "momentum": 0.99})
        assert set(out) == {"loss", "momentum"}
    _assert_on_device(nccl, ["all_reduce"])


def test_logged_scalars_are_averaged_on_the_groups_device(nccl):
    """The step's logs (device tensors, and floats such as a momentum) reduced as one CUDA tensor."""
    with _fake():
        logs = {"loss": torch.ones((), device=CUDA), "topk_sim": torch.ones((), device=CUDA), "momentum": 0.99}
        out = distributed.mean_over_processes(logs)
        assert set(out) == set(logs)
    _assert_on_device(nccl, ["all_reduce"])


def test_gradients_are_reduced_on_the_groups_device(nccl):
    with _fake():
        params = [torch.nn.Parameter(torch.ones(3, 2, device=CUDA)), torch.nn.Parameter(torch.ones(4, device=CUDA))]
        for p in params:
            p.grad = torch.ones_like(p)
        distributed.all_reduce_gradients(params)
    _assert_on_device(nccl, ["all_reduce"])


def test_cpu_sync_batchnorm_keeps_its_statistics_on_the_inputs_device(nccl):
    bn = distributed.CPUSyncBatchNorm(4)  # made outside the fake mode, moved inside it (as the trainer does)
    with _fake():
        bn = bn.to(CUDA)
        bn(torch.randn(6, 4, 3, 3, device=CUDA))
    _assert_on_device(nccl, ["all_reduce"])


@pytest.mark.parametrize("method", ["simclr", "mocov3"])
def test_contrastive_losses_gather_on_the_groups_device(nccl, method):
    """SimCLR's NT-Xent gathers every process's embeddings (with gradient), MoCo v3 its keys."""
    from ssl_core.backbones import build_backbone
    from ssl_core.methods import METHODS, StepInfo
    from tests.ssl_core.test_trainer import make_spec

    spec = make_spec("unused", "baseline")
    recipe = {**spec["recipe"], "momentum_base": 0.99, "pred_hidden_dim": 32, "proj_hidden_dim": 32,
              "proj_out_dim": 16}
    torch.manual_seed(0)
    model = METHODS.get(method).from_recipe(build_backbone("resnet_tiny"), recipe)
    with _fake():
        model = model.to(CUDA)
        views = [torch.randn(4, 3, 32, 32, device=CUDA) for _ in range(2)]
        _up_to_data_dependence(model, views, StepInfo(0, 10, 5))
    _assert_on_device(nccl, ["all_gather"])


@pytest.mark.parametrize("centering", ["centering", "sinkhorn_knopp"])
def test_dinov2_centre_and_sinkhorn_sums_on_the_groups_device(nccl, centering):
    from ssl_core.losses.centering import TeacherCentering

    c = TeacherCentering(8, centering)
    with _fake():
        c = c.to(CUDA)
        c(torch.randn(6, 8, device=CUDA), 0.07)
        if hasattr(c, "update"):
            c.update(torch.randn(6, 8, device=CUDA))
    _assert_on_device(nccl, ["all_reduce"])


def test_global_topk_gathers_the_similarities_on_the_groups_device(nccl):
    from ssl_core.rescue import select_easiest_global

    with _fake():
        sim = torch.rand(8, device=CUDA)
        _up_to_data_dependence(select_easiest_global, sim, 4)
    _assert_on_device(nccl, ["all_gather"])
