"""The rescue regulariser (Wang, Krajsek & Scharr, VISAPP 2025, Sec. 3 and Algorithm 1).

Per step: sim_i = cos(z_a[i], z_b[i]) over the positive pairs only (no gradient); the k pairs with
the largest similarity are the *easiest*; their original images are strongly augmented and sent
through the same online f, g to give z_s; L_topk = -mean_i cos(z_a[i_topk], z_s). The paper's
eq. (1) omits the minus sign but states that the loss is the *negative* cosine similarity, so
minimising L = L_SSL + s * L_topk pulls the strong views towards their common view. Gradients
flow through z_a and z_s.

The component is method-agnostic: any pair-based method that yields per-image features of two
views and an ``embed`` function for extra views can call it.

>>> rescue = RescueRegularizer(k=2, strong_augment=StrongAugment(size=32))
>>> out = rescue(z_a, z_b, originals, embed=model.embed, generator=torch.Generator())
>>> loss = loss_ssl + s * out.loss
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core import distributed as dist


@torch.no_grad()
def select_easiest(z_a: torch.Tensor, z_b: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the k positive pairs with the highest cosine similarity, and all N similarities."""
    n = z_a.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"rescue k={k} must be in [1, batch size {n}]")
    sim = F.cosine_similarity(z_a.float(), z_b.float(), dim=1)
    return sim.topk(k).indices, sim


@torch.no_grad()
def select_easiest_global(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The global top-k (``rescue.topk: global``, Algorithm 1 over the whole batch): of the k most
    similar positive pairs of all processes' batches, this process's ones as (local indices, their
    slots 0..k-1 in the global selection). The similarities of every process are gathered (N
    floats each); a process may hold any number of the k, none included."""
    n = sim.shape[0]
    gathered = dist.gather_no_grad(sim)
    if not 0 < k <= gathered.shape[0]:
        raise ValueError(f"rescue k={k} must be in [1, global batch size {gathered.shape[0]}]")
    top = gathered.topk(k).indices
    mine = (top >= dist.rank() * n) & (top < (dist.rank() + 1) * n)
    slots = mine.nonzero().flatten()
    return top[slots] - dist.rank() * n, slots


@dataclass
class RescueOutput:
    loss: torch.Tensor  # L_topk = -mean cos(z_a[i_topk], z_s)
    indices: torch.Tensor  # i_topk (this process's)
    # Detached scalar tensors, left on the device (the trainer moves all its logs in one copy). Each
    # is scaled so that its mean over processes is the global batch's value.
    topk_similarity: torch.Tensor  # mean cos(z_a, z_b) of the selected (easiest) pairs
    pair_similarity: torch.Tensor  # mean cos(z_a, z_b) of all positive pairs
    strong_similarity: torch.Tensor  # mean cos(z_a[i_topk], z_s), i.e. -loss


#: ``rescue.topk`` values: the k easiest of the whole batch, or k / processes of each process's slice.
TOPK = ("per_process", "global")


class RescueRegularizer(nn.Module):
    """``k`` is the number of pairs rescued per *global* batch. ``topk``:

    - ``per_process`` (default): every process rescues the k / P easiest pairs of its own slice
      (the same number of strong views on every process, no communication; k % P == 0);
    - ``global``: the k easiest pairs of the whole batch, as Algorithm 1 reads; every process draws
      the strong augmentation of all k from the same generator and augments its own share, so P
      processes give exactly the loss of one.

    The loss of each process is -(P / k) * sum of its cosines: with gradients averaged over the P
    processes (DDP) the update is that of L_topk = -mean over the k pairs."""

    def __init__(self, k: int, strong_augment: Callable[..., torch.Tensor], topk: str = "per_process") -> None:
        super().__init__()
        if topk not in TOPK:
            raise ValueError(f"rescue.topk must be one of {TOPK}, got {topk!r}")
        self.k = k
        self.topk = topk
        self.strong_augment = strong_augment

    def forward(
        self,
        z_a: torch.Tensor,
        z_b: torch.Tensor,
        originals: torch.Tensor,
        embed: Callable[[torch.Tensor], torch.Tensor],
        generator: torch.Generator,
    ) -> RescueOutput:
        """``originals``: uint8 [N,3,H,W], the un-augmented images of the batch (any device)."""
        world = dist.world_size()
        if self.topk == "global":
            sim = F.cosine_similarity(z_a.detach().float(), z_b.detach().float(), dim=1)
            idx, slots = select_easiest_global(sim, self.k)
            strong = self.strong_augment(originals[idx.to(originals.device)], generator, slots=slots, of=self.k)
        else:
            if self.k % world:
                raise ValueError(f"rescue k={self.k} must be divisible by the {world} processes (rescue.topk: "
                                 "per_process)")
            idx, sim = select_easiest(z_a, z_b, self.k // world)
            strong = self.strong_augment(originals[idx.to(originals.device)], generator)
        z_s = embed(strong.to(z_a.device, non_blocking=True))
        scale = world / self.k
        cos = F.cosine_similarity(z_a[idx], z_s, dim=1).sum() * scale
        return RescueOutput(
            loss=-cos,
            indices=idx,
            topk_similarity=sim[idx].sum() * scale,
            pair_similarity=sim.mean(),
            strong_similarity=cos.detach(),
        )
