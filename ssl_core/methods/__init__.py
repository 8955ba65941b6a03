"""SSL method registry. A method is an ``nn.Module`` class, registered by name, with

- ``from_recipe(backbone, recipe)``: build it from the config's recipe of that method,
- ``view_specs(recipe)``: its views, one ``ssl_core.views.ViewSpec`` each (made in the loader or
  on the device by ``ssl_core.views.Views``); views 0 and 1 are the pair the rescue term selects
  on (SimCLR/MoCo: the two views; DINOv2: the two global crops),
- ``forward(views, step) -> MethodOutput``: the SSL loss and the per-image features z_a, z_b of
  views 0 and 1 (with gradient) that the rescue term uses,
- ``embed(images) -> z``: the same online path for the rescue term's strong views,
- ``eval_backbone``: the encoder kept after pretraining and evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ssl_core.registry import Registry

METHODS: Registry[type] = Registry("method")


@dataclass(frozen=True)
class StepInfo:
    """Where training is, for the schedules that live inside a method (momentum, temperatures)."""

    step: int
    total_steps: int
    steps_per_epoch: int

    @property
    def progress(self) -> float:
        return self.step / max(1, self.total_steps)


@dataclass
class MethodOutput:
    loss: torch.Tensor
    z_a: torch.Tensor
    z_b: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


from ssl_core.methods import dinov2, mocov3, simclr  # noqa: E402,F401  (register the methods)
