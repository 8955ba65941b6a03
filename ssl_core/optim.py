"""Optimisers and the learning-rate schedule of the official recipes."""
from __future__ import annotations

import math

import torch
from lightly.utils.lars import LARS
from lightly.utils.scheduler import cosine_schedule, cosine_warmup_schedule
from torch import nn


def scaled_lr(base_lr: float, batch_size: int, scaling: str, reference_batch: int = 256) -> float:
    """SimCLR/MoCo: lr = base x B/256 ("linear"); DINOv2: lr = base x sqrt(B/1024) ("sqrt")."""
    if scaling == "linear":
        return base_lr * batch_size / reference_batch
    if scaling == "sqrt":
        return base_lr * math.sqrt(batch_size / reference_batch)
    if scaling == "none":
        return base_lr
    raise ValueError(f"unknown lr scaling {scaling!r} (linear, sqrt, none)")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Biases and normalisation parameters (the 1-D tensors) get no weight decay; with LARS that
    also exempts them from the trust-ratio adaptation (lightly's LARS skips it when wd == 0),
    as in SimCLR's and MoCo v3's LARS."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    groups = param_groups(model, weight_decay)
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum, trust_coefficient=0.001)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
    raise ValueError(f"unknown optimizer {name!r} (lars, sgd, adamw)")


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float) -> float:
    """Linear warm-up from 0 to ``peak_lr`` then half-cosine decay to 0, per step."""
    return cosine_warmup_schedule(
        step=step, max_steps=total_steps, start_value=peak_lr, end_value=0.0,
        warmup_steps=warmup_steps, warmup_start_value=0.0,
    )
