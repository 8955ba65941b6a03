"""Optimisers and the learning-rate schedule of the official recipes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from lightly.utils.scheduler import cosine_schedule
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
    """Biases and normalisation parameters (the 1-D tensors) get no weight decay (LARS also skips
    their adaptation, as SimCLR's and MoCo v3's)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay, "wd_mult": 1.0},
            {"params": no_decay, "weight_decay": 0.0, "wd_mult": 0.0}]


class LARS(torch.optim.Optimizer):
    """LARS as facebookresearch/moco-v3 ``moco/optimizer.py`` (the PyTorch form of SimCLR's): for
    parameters with ndim > 1, u = g + wd p is scaled by eta ||p|| / ||u|| (1 where either norm is
    0); 1-D parameters (biases, norms) take the plain gradient, without decay or adaptation;
    then heavy-ball momentum from a zero buffer and p -= lr mu. Written by hand because lightly's
    LARS adapts by ||p|| / (||g|| + wd ||p||) and starts its buffer at the first update."""

    def __init__(self, params, lr: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.9,
                 trust_coefficient: float = 0.001) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self, closure=None):
        # The same update as moco-v3's per-parameter loop, on lists of tensors (torch._foreach_*):
        # one kernel per operation instead of ~10 small ops per parameter. The update is built in
        # place in the gradients (as apex's LARC): a fresh u = g + wd p would allocate the
        # model's size in new memory every step, which on CPU costs more than the arithmetic.
        for g in self.param_groups:
            params = [p for p in g["params"] if p.grad is not None]
            if not params:
                continue
            updates = [p.grad for p in params]
            matrices = [p for p in params if p.ndim > 1]
            if matrices:
                decayed = [p.grad for p in matrices]
                torch._foreach_add_(decayed, matrices, alpha=g["weight_decay"])
                param_norm = torch.stack(torch._foreach_norm(matrices))
                update_norm = torch.stack(torch._foreach_norm(decayed))
                q = torch.where((param_norm > 0) & (update_norm > 0),
                                g["trust_coefficient"] * param_norm / update_norm, torch.ones_like(param_norm))
                torch._foreach_mul_(decayed, list(q.unbind()))
            for p in params:
                if "mu" not in self.state[p]:
                    self.state[p]["mu"] = torch.zeros_like(p)
            mu = [self.state[p]["mu"] for p in params]
            torch._foreach_mul_(mu, g["momentum"])
            torch._foreach_add_(mu, updates)
            torch._foreach_add_(params, mu, alpha=-g["lr"])


def build_optimizer(groups: list[dict], name: str, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """``groups`` as from :func:`param_groups` or a method's own ``param_groups``; their optional
    ``lr_mult``, ``wd_mult`` and ``is_last_layer`` keys are applied by the trainer every step.
    AdamW ``betas``: torch's default (0.9, 0.999) in MoCo v3 (main_moco.py) and DINOv2."""
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    raise ValueError(f"unknown optimizer {name!r} (lars, sgd, adamw)")


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float, final_lr: float = 0.0) -> float:
    """Linear warm-up from 0 then half-cosine decay to ``final_lr``, per step: moco-v3
    ``main_moco.py`` ``adjust_learning_rate`` with a fractional epoch (SimCLR's schedule is the
    same; DINOv2's ``CosineScheduler`` ends at ``min_lr`` 1e-6). By hand: lightly's
    ``cosine_warmup_schedule`` starts its warm-up one step later (lr > 0 at step 0)."""
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return final_lr + (peak_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class Schedule:
    """A run's per-step schedules, in steps: the lr (:func:`lr_at`, warm-up then cosine to
    ``min_lr``), the weight decay (cosine from ``weight_decay`` to ``weight_decay_end``) and the
    frozen last layer (DINOv2's ``freeze_last_layer_epochs``). An "epoch" of the recipe is
    ``steps_per_epoch`` steps: a pass over the data, or ``epoch_length`` iterations where the recipe
    says so (DINOv2's ``OFFICIAL_EPOCH_LENGTH``)."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    freeze_last_steps: int
    peak_lr: float
    min_lr: float
    weight_decay: float
    weight_decay_end: float

    @classmethod
    def of(cls, recipe: dict[str, Any], data_steps: int, peak_lr: float, trains: bool = True) -> "Schedule":
        """``data_steps``: batches per pass over the data; ``trains`` False: no step at all (a floor)."""
        steps_per_epoch = recipe.get("epoch_length") or data_steps
        return cls(steps_per_epoch=steps_per_epoch,
                   total_steps=recipe["epochs"] * steps_per_epoch if trains else 0,
                   warmup_steps=recipe["warmup_epochs"] * steps_per_epoch,
                   freeze_last_steps=recipe.get("freeze_last_layer_epochs", 0) * steps_per_epoch,
                   peak_lr=peak_lr, min_lr=recipe.get("min_lr", 0.0), weight_decay=recipe["weight_decay"],
                   weight_decay_end=recipe.get("weight_decay_end", recipe["weight_decay"]))

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group's lr and weight decay for ``step`` (times the group's
        ``lr_mult`` / ``wd_mult``; lr 0 for the last layer while frozen); returns the lr."""
        lr = lr_at(step, self.total_steps, self.warmup_steps, self.peak_lr, self.min_lr)
        wd = cosine_schedule(step, self.total_steps, self.weight_decay, self.weight_decay_end)
        for group in optimizer.param_groups:
            frozen = group.get("is_last_layer", False) and step < self.freeze_last_steps
            group["lr"] = 0.0 if frozen else lr * group.get("lr_mult", 1.0)
            group["weight_decay"] = wd * group.get("wd_mult", 1.0)
        return lr
