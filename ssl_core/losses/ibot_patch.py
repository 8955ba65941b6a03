"""iBOT's masked-patch loss as DINOv2 computes it (facebookresearch/dinov2 ``dinov2/loss/
ibot_patch_loss.py`` ``iBOTPatchLoss.forward_masked``; scaled by ``loss_scales x ibot_loss_scale``
= 2 x 1/2 = 1 in ``ssl_meta_arch.py``).

For the masked patches of the student's global crops, -sum_k p_t log softmax(s / 0.1) against the
teacher's targets of the same (unmasked) patches; each patch weighs 1 / (masked patches of its
image), and the sum is divided by the number of global-crop images B, masked or not. Written by
hand for the same reason as the class-token loss (lightly's ``IBOTPatchLoss`` centres inside).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.losses.centering import TeacherCentering


class IBOTPatchLoss(nn.Module):
    def __init__(self, dim: int, centering: str = "centering", student_temp: float = 0.1,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        self.student_temp = student_temp
        self.teacher = TeacherCentering(dim, centering, center_momentum)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, masks: torch.Tensor,
                teacher_temp: float) -> torch.Tensor:
        """``student_logits`` / ``teacher_logits``: [M, K] for the M masked patches, in the order of
        ``masks.nonzero()``; ``masks``: [B, P] bool over the B global-crop images."""
        targets = self.teacher(teacher_logits, teacher_temp)
        ce = (targets * F.log_softmax(student_logits.float() / self.student_temp, dim=-1)).sum(dim=-1)
        weight = (1.0 / masks.sum(dim=-1).clamp(min=1.0)).unsqueeze(-1).expand_as(masks)[masks]
        return -(ce * weight).sum() / masks.shape[0]
