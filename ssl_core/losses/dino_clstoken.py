"""DINO's class-token loss as DINOv2 computes it (facebookresearch/dinov2 ``dinov2/loss/
dino_clstoken_loss.py`` ``DINOLoss.forward`` and the two calls in ``train/ssl_meta_arch.py``
``forward_backward``).

The teacher sees the 2 global crops, the student the 2 global and the local crops; every
(teacher crop, student crop) pair of *different* crops contributes -sum_k p_t log softmax(s / 0.1),
averaged over the batch, and the sum over pairs is divided by
``n_global_crops_loss_terms + n_local_crops_loss_terms`` = 2 + max(2 x n_local, 1) (so 2 + 2 x
n_local, the number of pairs, whenever there are local crops). Written by hand: lightly's
``DINOLoss`` fuses its own softmax centering into the loss, which leaves no room for the
Sinkhorn-Knopp targets of DINOv2's other centering mode.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.losses.centering import TeacherCentering


class DINOClsTokenLoss(nn.Module):
    def __init__(self, dim: int, centering: str = "centering", student_temp: float = 0.1,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        self.student_temp = student_temp
        self.teacher = TeacherCentering(dim, centering, center_momentum)

    def forward(self, student_logits: list[torch.Tensor], teacher_logits: torch.Tensor,
                teacher_temp: float) -> torch.Tensor:
        """``student_logits``: [global crop 1, global crop 2, local crops...], each [B, K];
        ``teacher_logits``: [2 B, K], global crop 1 then 2 (centred together, as the official)."""
        n_global, n_local = 2, len(student_logits) - 2
        targets = self.teacher(teacher_logits, teacher_temp).chunk(n_global)
        total = torch.zeros((), device=teacher_logits.device)
        for s_idx, s in enumerate(student_logits):
            log_p = F.log_softmax(s.float() / self.student_temp, dim=-1)
            for t_idx, t in enumerate(targets):
                if s_idx != t_idx:  # a global crop is not compared with itself
                    total = total - (t * log_p).sum(dim=-1).mean()
        return total / ((n_global - 1) * n_global + max(n_local * n_global, 1))
