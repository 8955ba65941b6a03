"""The method contract: what the trainer, the rescue term and the benchmarks use of an SSL method.

A method is a subclass of :class:`Method` in its own module of ``ssl_core.methods``, registered
by name with ``@METHODS.register(name)`` (the name is the module's name). It implements

- ``from_recipe(backbone, recipe)``: build it from the config's recipe of that method,
- ``view_specs(recipe)``: its views, one ``ssl_core.augment.common.ViewSpec`` each (made in the loader or
  on the device by ``ssl_core.augment.common.Views``); views 0 and 1 are the pair the rescue term selects
  on (SimCLR, MoCo v3, BYOL: the two views; DINOv2: the two global crops),
- ``forward(views, step) -> MethodOutput``: the SSL loss and the per-image features z_a, z_b of
  views 0 and 1 (with gradient) that the rescue term uses,
- ``embed(images) -> z``: the same online path for the rescue term's strong views,

and may override

- ``eval_backbone``: the encoder kept after pretraining and evaluated (default ``self.backbone``),
- ``param_groups(weight_decay)``: the optimiser's parameter groups (default
  :func:`ssl_core.optim.param_groups`: no weight decay on 1-D tensors),
- ``on_before_optimizer_step(step)`` / ``on_after_optimizer_step(step)``: hooks around the
  optimiser's step (gradient clipping per module, an EMA teacher updated after the step).

Its module also holds two literals that are read *without importing it* (so that the config's
validation and the workflow never import torch; :func:`ssl_core.methods.method_info`):
``LABEL`` (its name in figures and tables) and ``RECIPE_SCHEMA`` (the JSON schema of its own
recipe keys; the keys every recipe has are ``$defs/recipe_common`` of
``ssl_core/config.schema.yaml``; keys a few methods share are a group of ``$defs`` there,
which the schema names in its ``allOf``, e.g. ``$defs/asymmetric_views``).
"""
from __future__ import annotations

import abc
import copy
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ssl_core.augment.common import ViewSpec
from ssl_core.optim import param_groups
from ssl_core.registry import Registry

METHODS: Registry[type["Method"]] = Registry("method")


@dataclass(frozen=True)
class StepInfo:
    """Where training is, for the schedules that live inside a method (momentum, temperatures)."""

    step: int
    total_steps: int
    steps_per_epoch: int
    targets: torch.Tensor | None = None  # the batch's labels, for an objective that uses them (the ceiling)

    @property
    def progress(self) -> float:
        return self.step / max(1, self.total_steps)


@dataclass
class MethodOutput:
    loss: torch.Tensor
    z_a: torch.Tensor
    z_b: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


def momentum_at(progress: float, base: float) -> float:
    """The EMA momentum's half cosine from ``base`` (progress 0) to 1 (progress 1):
    m = 1 - (1 + cos(pi * progress)) / 2 * (1 - base). The same schedule in moco-v3 (main_moco.py
    ``adjust_moco_momentum``, fractional epoch / epochs), dinov2 (train.py ``momentum_schedule``)
    and BYOL (byol_experiment.py ``_get_ema_decay`` / utils/schedules.py, step / total steps);
    ``progress`` = step / total_steps. Written by hand: lightly's ``cosine_schedule`` divides by
    ``max_steps - 1`` and reaches 1 one step early."""
    return 1.0 - 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - base)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` that gets no gradient: a momentum / EMA target starts as the online
    network (moco-v3 builder.py, BYOL byol_experiment.py) and moves only by the EMA update."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


class Trainable(nn.Module):
    """What the trainer's loop drives (an SSL method, or the supervised ceiling's objective): the
    backbone it evaluates, its optimiser's parameter groups, its step hooks and what the loop writes
    at the end of a run."""

    #: Whether a run of this objective is flagged when its embedding collapses (``emb_std``).
    embedding_collapse_test: ClassVar[bool] = True

    @property
    def eval_backbone(self) -> nn.Module:
        return self.backbone

    def param_groups(self, weight_decay: float) -> list[dict]:
        return param_groups(self, weight_decay)

    def on_before_optimizer_step(self, step: StepInfo) -> None:
        """After backward (and the global gradient clipping), before the optimiser's step."""

    def on_after_optimizer_step(self, step: StepInfo) -> None:
        """After the optimiser's step (e.g. an EMA teacher's update)."""

    def final_record(self, records: list[dict[str, Any]], steps_per_epoch: int,
                     batch_size: int) -> dict[str, Any] | None:
        """run.json's ``final`` from the run's per-step records; None: the last step's record."""
        return None


class Method(Trainable, metaclass=abc.ABCMeta):
    """An SSL method (module docstring). Subclasses set ``rescue_features``: which features z the
    rescue term compares (documentation: e.g. ``projector`` = the online projector output)."""

    rescue_features: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "Method":
        """The method on ``backbone`` with the hyper-parameters of the config's ``recipe``."""

    @staticmethod
    @abc.abstractmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        """The views of one image, in the order ``forward`` takes them (views 0 and 1: the pair)."""

    @abc.abstractmethod
    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        """The SSL loss of a batch of views and z_a, z_b of views 0 and 1."""

    @abc.abstractmethod
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """z of images through the online path z_a comes from (the rescue term's strong views)."""

