"""SimCLR (Chen et al., ICML 2020; google-research/simclr).

f = backbone, g = 2-layer MLP projector with BN (SimCLR v1; lightly's ``SimCLRProjectionHead``),
loss = NT-Xent over the 2N views with the negatives of every process gathered *with* gradient
(lightly's ``NTXentLoss(gather_distributed=True)``; its defaults, tau=0.5 and no gathering, are
not SimCLR's ImageNet recipe, so both are set explicitly from the config).

Initialisation and loss scale as the official code (google-research/simclr):

- ``model_util.py`` ``linear_layer``/``projection_head``: every projector Linear is initialised
  N(0, 0.01) without bias; the hidden BN has gamma and beta, the output BN has no beta
  (``center=use_bias=False``). lightly's head gives its output BN a beta: removed here.
- ``resnet.py``: the last BN of each residual block starts with gamma 0 (``init_zero=True``);
  recipe ``zero_init_residual`` (default true, the official value).
- ``objective.py`` ``add_contrastive_loss``: ``loss = loss_a + loss_b``, the *sum* of the two
  directions' mean cross-entropies; lightly's ``NTXentLoss`` returns their mean, half of it.
  Recipe ``loss_directions``: ``sum`` (default, official) or ``mean`` (lightly). The rescue weight s
  is relative to this loss: s under ``mean`` weighs as 2 s under ``sum`` (docs/protocols.md).
"""
from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules.heads import SimCLRProjectionHead
from torch import nn

from ssl_core.augment.common import CommonViewConfig, ViewSpec
from ssl_core.backbones import zero_init_residual_blocks
from ssl_core.methods.base import METHODS, Method, MethodOutput, StepInfo


LABEL = "SimCLR"
RECIPE_SCHEMA = {  # the recipe's own keys (ssl_core.methods.base)
    "properties": {
        "temperature": {"type": "number", "exclusiveMinimum": 0},
        "proj_hidden_dim": {"$ref": "#/$defs/posint"},
        "proj_out_dim": {"$ref": "#/$defs/posint"},
        "min_scale": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "blur_prob": {"type": "number", "minimum": 0, "maximum": 1},
        "color_strength": {"type": "number", "exclusiveMinimum": 0,
                           "description": "colour distortion strength s (default 1.0; SimCLR's CIFAR-10: 0.5)"},
        "loss_directions": {"enum": ["sum", "mean"], "description": (
            "NT-Xent as the sum of its two directions (default; google-research/simclr objective.py loss_a + "
            "loss_b) or their mean (lightly's NTXentLoss, half as large: s then weighs twice as much)")},
        "zero_init_residual": {"type": "boolean", "description": "zero gamma of each residual block's last BN "
                               "(default true, simclr resnet.py init_zero)"},
    },
    "required": ["temperature", "proj_hidden_dim", "proj_out_dim", "min_scale", "blur_prob"],
}

#: NTXentLoss (the mean of the two directions) times this factor, per ``loss_directions``.
LOSS_DIRECTIONS = {"sum": 2.0, "mean": 1.0}


def official_projection_head(input_dim: int, hidden_dim: int, output_dim: int) -> SimCLRProjectionHead:
    """lightly's v1 head (Linear-BN-ReLU-Linear-BN, Linears without bias) initialised as
    ``model_util.py``: Linears N(0, 0.01) (``random_normal_initializer(stddev=.01)``), and the
    output BN without beta (``batch_norm_relu(center=False)``)."""
    head = SimCLRProjectionHead(input_dim, hidden_dim, output_dim)
    for m in head.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
    head.layers[-1] = nn.BatchNorm1d(output_dim, bias=False)
    return head


@METHODS.register("simclr")
class SimCLR(Method):
    #: Which features the rescue term uses: z = projector output (the paper's).
    rescue_features = "projector"

    def __init__(self, backbone: nn.Module, proj_hidden_dim: int = 2048, proj_out_dim: int = 128,
                 temperature: float = 0.1, loss_directions: str = "sum", zero_init_residual: bool = True) -> None:
        super().__init__()
        if loss_directions not in LOSS_DIRECTIONS:
            raise ValueError(f"loss_directions must be one of {sorted(LOSS_DIRECTIONS)}, got {loss_directions!r}")
        self.backbone = backbone
        if zero_init_residual:
            zero_init_residual_blocks(backbone)
        self.projector = official_projection_head(backbone.feature_dim, proj_hidden_dim, proj_out_dim)
        self.criterion = NTXentLoss(temperature=temperature, gather_distributed=True)
        self.loss_factor = LOSS_DIRECTIONS[loss_directions]

    @classmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "SimCLR":
        return cls(backbone, recipe["proj_hidden_dim"], recipe["proj_out_dim"], recipe["temperature"],
                   recipe.get("loss_directions", "sum"), recipe.get("zero_init_residual", True))

    @staticmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        view = CommonViewConfig(size=recipe["image_size"], min_scale=recipe["min_scale"], blur_prob=recipe["blur_prob"],
                                color_strength=recipe.get("color_strength", 1.0)).spec()
        return [view, view]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """z = g(f(x))."""
        return self.projector(self.backbone(images))

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        # One forward over both views, as SimCLR: BN statistics are shared by the 2N views.
        z_a, z_b = self.embed(torch.cat(views[:2])).chunk(2)
        return MethodOutput(self.criterion(z_a, z_b) * self.loss_factor, z_a, z_b)
