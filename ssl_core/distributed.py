"""Multi-process training: the same code on 1 process, N CPU processes (gloo) and N GPUs (NCCL).

Launch with ``torchrun --nproc-per-node N -m ssl_core pretrain ...`` (or under SLURM with
``srun``/torchrun, which set the same environment variables). The recipe's ``batch_size`` is the
*global* batch: each process takes its slice of every global batch, so N processes see exactly
the images one process would, and the gradient is averaged over processes after ``backward``
(what DDP does, without bucketing; a step's communication is one all-reduce per parameter).

Batch-size-dependent pieces:
- SimCLR negatives and MoCo v3 keys are gathered across processes inside the losses.
- BatchNorm is synchronised (the official SimCLR/MoCo v3 use global BN): torch's SyncBatchNorm on
  GPU, and on CPU, where torch's has no kernel, ``CPUSyncBatchNorm`` below.
- DINOv2's teacher centre and Sinkhorn-Knopp sums are all-reduced inside its losses; its iBOT
  masks and KoLeo term are per process, as in the official code.
- The rescue term's top-k (``rescue.topk``): ``per_process`` takes k / N per local batch, so
  every process forwards the same number of strong views and no similarity is communicated, the
  selection being the top-k/N of each slice (``k`` divisible by N); ``global`` gathers the N
  similarities of every process and takes the k easiest of the whole batch, as one process would.
  The strong views are normalised with the common views' global statistics (``rescue.bn``,
  ``ssl_core.batchnorm``), so neither choice depends on how many strong views a process holds.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn


def init_from_env(device: torch.device) -> None:
    """Join the process group torchrun/SLURM describe in the environment (no-op for 1 process):
    NCCL for a GPU (``device``: this process's, from :func:`local_device`), gloo for the CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """One GPU per process: LOCAL_RANK picks it, and it becomes the process's current CUDA device
    (``torch.cuda.set_device``, before the process group starts), so every tensor made on "cuda"
    without an index, NCCL's included, is on it."""
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def collective_device() -> torch.device:
    """The device a collective's tensors must be on: this process's GPU under NCCL (which reduces
    CUDA tensors only), the CPU under gloo (and for 1 process)."""
    if world_size() > 1 and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch on CPU processes (gloo). Statistics are all-reduced with
    the differentiable ``torch.distributed.nn.functional.all_reduce``, so gradients are those of
    BN over the concatenated batch, exactly as torch's SyncBatchNorm computes on GPU."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"expected at least 2-D input, got {x.ndim}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        dims = [0] + list(range(2, x.ndim))
        shape = [1, -1] + [1] * (x.ndim - 2)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = dist_fn.all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        out = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape)
        if self.bias is not None:  # BatchNorm(bias=False): SimCLR's output BN has no beta
            out = out + self.bias.view(shape)
        return out


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Global BN across processes; identity for one process."""
    if world_size() == 1:
        return model
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _convert_cpu(model)


def _convert_cpu(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        new = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats, bias=module.bias is not None)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        for p_new, p_old in zip(new.parameters(), module.parameters()):
            p_new.requires_grad_(p_old.requires_grad)
        return new
    for name, child in module.named_children():
        setattr(module, name, _convert_cpu(child))
    return module


def all_reduce_gradients(params) -> None:
    """Average every gradient over processes (the DDP reduction), one flat all-reduce."""
    if world_size() == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


@torch.no_grad()
def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' tensors concatenated along dim 0, without gradient (moco-v3 builder.py
    ``concat_all_gather``; lightly's ``gather`` keeps the gradient)."""
    if world_size() == 1:
        return tensor
    gathered = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(gathered, tensor.contiguous())
    return torch.cat(gathered, dim=0)


def mean_over_processes(values: dict[str, torch.Tensor | float]) -> dict[str, torch.Tensor | float]:
    """Average logged scalars (0-d tensors or floats) over processes so metrics.jsonl describes the
    global batch: one float64 all-reduce on the process group's device (:func:`collective_device`:
    a CPU tensor under NCCL fails), returned as 0-d tensors there (the caller copies them to the
    host at once). One process: ``values`` unchanged."""
    if world_size() == 1 or not values:
        return values
    keys = sorted(values)
    device = collective_device()
    t = torch.stack([v.detach().to(device=device, dtype=torch.float64).reshape(()) if isinstance(v, torch.Tensor)
                     else torch.tensor(float(v), dtype=torch.float64, device=device) for v in map(values.get, keys)])
    dist.all_reduce(t)
    t /= world_size()
    return dict(zip(keys, t.unbind()))


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
