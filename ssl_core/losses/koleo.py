"""KoLeo regulariser (Sablayrolles et al. 2019) as DINOv2 applies it (facebookresearch/dinov2
``dinov2/loss/koleo_loss.py``): -mean_i log(||x_i - x_nn(i)|| + 1e-8) over l2-normalised
vectors, nn(i) the nearest other vector of the batch.

lightly's ``KoLeoLoss`` is the same computation (its nearest-neighbour search masks the diagonal
with -2 where the official writes -1, which differs only when every other vector is antipodal);
the official computes it outside autocast, in float32, which is done here.
"""
from __future__ import annotations

import torch
from lightly.loss import KoLeoLoss

_KOLEO = KoLeoLoss(p=2, eps=1e-8)


def koleo_loss(x: torch.Tensor) -> torch.Tensor:
    """x: [B, D] (DINOv2: the pre-head class tokens of one global crop)."""
    with torch.autocast(x.device.type, enabled=False):
        return _KOLEO(x.float())
