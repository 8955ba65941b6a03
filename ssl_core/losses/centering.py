"""The teacher's target distribution of DINOv2 (facebookresearch/dinov2 ``dinov2/loss/
dino_clstoken_loss.py`` and ``ibot_patch_loss.py``): ``softmax_center_teacher`` or
``sinkhorn_knopp_teacher``, selected by ``train.centering`` in ``ssl_default_config.yaml``.

- "centering" (the default): softmax((t - c) / T), with c a running mean of the teacher outputs
  (momentum 0.9) over every process. c is updated *after* it is used, so the softmax of a step sees
  the centre of the previous steps, as the official code's delayed ``apply_center_update``.
  lightly's ``Center`` keeps that centre: the per-process mean, averaged over processes, which is
  the official ``all_reduce(sum) / (len * world_size)`` for equal local batches (and, for iBOT,
  exactly its all-reduced per-process mean of the masked tokens).
- "sinkhorn_knopp": 3 Sinkhorn-Knopp iterations on exp(t / T) (SwAV), with the total and the
  prototype (row) sums all-reduced over processes and B = the number of samples of all processes;
  written by hand (lightly's ``sinkhorn`` does not all-reduce and normalises differently).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightly.models.modules.center import Center
from torch import nn

from ssl_core import distributed

CENTERINGS = ("centering", "sinkhorn_knopp")


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if distributed.world_size() > 1:
        dist.all_reduce(t)
    return t


@torch.no_grad()
def sinkhorn_knopp(teacher_logits: torch.Tensor, temperature: float, n_iterations: int = 3) -> torch.Tensor:
    """``sinkhorn_knopp_teacher``: [B_local, K] logits -> [B_local, K] assignments whose rows sum
    to 1 and whose prototypes carry equal mass over the samples of all processes. B counts the
    samples of all processes (the iBOT variant all-reduces its masked-patch count; for the DINO
    variant that is B_local x world size)."""
    q = torch.exp(teacher_logits.float() / temperature).t()  # K x B, the paper's notation
    n_samples = _all_reduce(torch.tensor(float(q.shape[1]), device=q.device))
    n_prototypes = q.shape[0]
    q /= _all_reduce(q.sum())
    for _ in range(n_iterations):
        q /= _all_reduce(q.sum(dim=1, keepdim=True))  # each prototype: total weight 1/K
        q /= n_prototypes
        q /= q.sum(dim=0, keepdim=True)  # each sample: total weight 1/B
        q /= n_samples
    q *= n_samples  # columns sum to 1: an assignment per sample
    return q.t()


class TeacherCentering(nn.Module):
    """Teacher logits [B, K] -> target probabilities [B, K] (no gradient)."""

    def __init__(self, dim: int, mode: str = "centering", momentum: float = 0.9) -> None:
        super().__init__()
        if mode not in CENTERINGS:
            raise ValueError(f"unknown centering {mode!r} ({', '.join(CENTERINGS)})")
        self.mode = mode
        self.center = Center(size=(1, dim), mode="mean", momentum=momentum)

    @torch.no_grad()
    def forward(self, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
        if self.mode == "sinkhorn_knopp":
            return sinkhorn_knopp(teacher_logits, temperature)
        t = teacher_logits.float()
        probs = F.softmax((t - self.center.value) / temperature, dim=-1)
        self.center.update(t)
        return probs
