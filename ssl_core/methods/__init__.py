"""SSL method registry. A method is an ``nn.Module`` with

- ``backbone``: the encoder f kept after pretraining,
- ``forward(view_a, view_b) -> MethodOutput``: the SSL loss and the per-pair features z_a, z_b
  that the rescue term selects on,
- ``embed(images) -> z``: the same online path f, g for the rescue term's strong views.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ssl_core.registry import Registry

METHODS: Registry[torch.nn.Module] = Registry("method")


@dataclass
class MethodOutput:
    loss: torch.Tensor
    z_a: torch.Tensor
    z_b: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


from ssl_core.methods import simclr  # noqa: E402,F401  (registers the method)
