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
    return [{"params": decay, "weight_decay": weight_decay, "wd_mult": 1.0},
            {"params": no_decay, "weight_decay": 0.0, "wd_mult": 0.0}]


def build_optimizer(groups: list[dict], name: str, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """``groups`` as from :func:`param_groups` or a method's own ``param_groups``; their optional
    ``lr_mult``, ``wd_mult`` and ``is_last_layer`` keys are applied by the trainer every step.
    AdamW ``betas``: MoCo v3 ViT (0.9, 0.95); DINOv2 (0.9, 0.999)."""
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum, trust_coefficient=0.001)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    raise ValueError(f"unknown optimizer {name!r} (lars, sgd, adamw)")


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float) -> float:
    """Linear warm-up from 0 to ``peak_lr`` then half-cosine decay to 0, per step."""
    return cosine_warmup_schedule(
        step=step, max_steps=total_steps, start_value=peak_lr, end_value=0.0,
        warmup_steps=warmup_steps, warmup_start_value=0.0,
    )
