"""SimCLR (Chen et al., ICML 2020; google-research/simclr).

f = backbone, g = 2-layer MLP projector with BN (SimCLR v1; lightly's ``SimCLRProjectionHead``),
loss = NT-Xent over the 2N views with the negatives of every process gathered *with* gradient
(lightly's ``NTXentLoss(gather_distributed=True)``; its defaults, tau=0.5 and no gathering, are
not SimCLR's ImageNet recipe, so both are set explicitly from the config).
"""
from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules.heads import SimCLRProjectionHead
from torch import nn

from ssl_core.augment import CommonViewConfig
from ssl_core.methods import METHODS, MethodOutput, StepInfo
from ssl_core.views import ViewSpec


@METHODS.register("simclr")
class SimCLR(nn.Module):
    #: Which features the rescue term uses (DESIGN: SimCLR z = projector output).
    rescue_features = "projector"

    def __init__(self, backbone: nn.Module, proj_hidden_dim: int = 2048, proj_out_dim: int = 128,
                 temperature: float = 0.1) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = SimCLRProjectionHead(backbone.feature_dim, proj_hidden_dim, proj_out_dim)
        self.criterion = NTXentLoss(temperature=temperature, gather_distributed=True)

    @classmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "SimCLR":
        return cls(backbone, recipe["proj_hidden_dim"], recipe["proj_out_dim"], recipe["temperature"])

    @staticmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        view = CommonViewConfig(size=recipe["image_size"], min_scale=recipe["min_scale"], blur_prob=recipe["blur_prob"],
                                color_strength=recipe.get("color_strength", 1.0)).spec()
        return [view, view]

    @property
    def eval_backbone(self) -> nn.Module:
        return self.backbone

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """z = g(f(x))."""
        return self.projector(self.backbone(images))

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        # One forward over both views, as SimCLR: BN statistics are shared by the 2N views.
        z_a, z_b = self.embed(torch.cat(views[:2])).chunk(2)
        return MethodOutput(self.criterion(z_a, z_b), z_a, z_b)
