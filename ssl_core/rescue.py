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


@torch.no_grad()
def select_easiest(z_a: torch.Tensor, z_b: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the k positive pairs with the highest cosine similarity, and all N similarities.

    The selection is per local batch: with several processes each one rescues its own k easiest
    pairs (k is therefore a per-process number, as the batch it is chosen from)."""
    n = z_a.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"rescue k={k} must be in [1, batch size {n}]")
    sim = F.cosine_similarity(z_a.float(), z_b.float(), dim=1)
    return sim.topk(k).indices, sim


@dataclass
class RescueOutput:
    loss: torch.Tensor  # L_topk = -mean cos(z_a[i_topk], z_s)
    indices: torch.Tensor  # i_topk
    # Detached scalar tensors, left on the device (the trainer moves all its logs in one copy):
    topk_similarity: torch.Tensor  # mean cos(z_a, z_b) of the selected (easiest) pairs
    pair_similarity: torch.Tensor  # mean cos(z_a, z_b) of all positive pairs
    strong_similarity: torch.Tensor  # mean cos(z_a[i_topk], z_s), i.e. -loss


class RescueRegularizer(nn.Module):
    def __init__(self, k: int, strong_augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor]) -> None:
        super().__init__()
        self.k = k
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
        idx, sim = select_easiest(z_a, z_b, self.k)
        strong = self.strong_augment(originals[idx.to(originals.device)], generator)
        z_s = embed(strong.to(z_a.device, non_blocking=True))
        cos = F.cosine_similarity(z_a[idx], z_s, dim=1).mean()
        return RescueOutput(
            loss=-cos,
            indices=idx,
            topk_similarity=sim[idx].mean(),
            pair_similarity=sim.mean(),
            strong_similarity=cos.detach(),
        )
