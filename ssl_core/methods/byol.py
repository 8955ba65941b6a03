"""BYOL (Grill et al., NeurIPS 2020; deepmind-research ``byol/byol_experiment.py``,
``byol/utils/networks.py``, ``byol/utils/helpers.py``, ``byol/utils/schedules.py``,
``byol/utils/augmentations.py``, ``byol/configs/byol.py``): a method beyond the paper's three,
rescued as the paper rescues MoCo v3.

Online network = backbone f, projector g, predictor q; target network = an EMA copy of f and g
(no predictor), never trained. Per step (byol_experiment.py ``_update_fn`` / ``loss_fn``):

- one pass per view through each network (``apply_once_fn`` per view: BatchNorm statistics are
  per view, as in MoCo v3), the target's in train mode (``is_training=True``) under no gradient;
- loss = mean over the batch of ``regression_loss(q1, t2) + regression_loss(q2, t1)``, the sum
  of the two directions, with ``regression_loss(x, y) = 2 - 2 cos(x, y)`` (helpers.py), q = q(g(f(x)))
  and t = g_t(f_t(x)); lightly's ``NegativeCosineSimilarity`` is -cos, so this is
  4 + 2 (ncs(q1, t2) + ncs(q2, t1));
- *after* the online update, target = tau target + (1 - tau) online (parameters; the target's
  BatchNorm statistics are its own), tau = 1 - (1 - tau_base)(1 + cos(pi k / K)) / 2
  (schedules.py ``target_ema``, k = the step, K = all steps): ``momentum_at``, the schedule MoCo
  v3 and DINOv2 use; lightly's ``update_momentum`` does the parameter update.

Heads (networks.py ``MLP``): Linear(hidden, with bias) - BatchNorm - ReLU - Linear(out, *without*
bias), projector 4096-256, predictor 4096-256 on the projection. lightly's ``BYOLProjectionHead``
/ ``BYOLPredictionHead`` have the same shapes with the biases the other way round (none in the
first Linear, one in the last): built here as the official code. Linears are initialised as
haiku's ``hk.Linear`` (truncated normal, std 1/sqrt(fan_in); zero bias); BatchNorm decay 0.9 and
eps 1e-5 are torch's defaults. The ResNet-50 (haiku ``ResNet`` ``BlockV1``) starts the last
BatchNorm of each bottleneck block at scale 0 (``scale_init=jnp.zeros``): ``zero_init_residual``,
which zeroes it in every residual block, as the suite's other ResNet methods (haiku's basic blocks,
ResNet-18/34, would keep scale 1; on the tiny ResNet BYOL then shares its floor with SimCLR and MoCo v3).

The rescue features z (views 0 and 1) are the online projector output, before the predictor, as
the paper's for MoCo v3; ``embed`` sends the strong views through f and g. With ``rescue.bn:
common`` they are normalised with the statistics of the online network's first forward of the
step, view 0's (``ssl_core.batchnorm``).

Recipe keys (official values: configs/byol.py and the paper's App. C / J):

==================  ============================================================  ==================
key                 meaning                                                       official
==================  ============================================================  ==================
tau_base            target EMA decay at step 0, cosine to 1                       0.996
proj_hidden_dim     hidden width of projector and predictor                       4096
pred_hidden_dim     hidden width of the predictor                                 4096
proj_out_dim        output width of projector and predictor                       256
zero_init_residual  optional, default true: zero scale of each residual block's    true (ResNet-50)
                    last BatchNorm (haiku BlockV1's bottleneck blocks)
min_scale           RandomResizedCrop lower scale                                 0.08
blur_probs          optional, default [1.0, 0.1]: Gaussian-blur probability of    [1.0, 0.1]
                    view 1 and view 2 (solarisation: 0 and 0.2)
==================  ============================================================  ==================

Keys the trainer reads, official values: ``optimizer: lars`` (momentum 0.9, eta 1e-3, biases and
BatchNorm parameters excluded from weight decay and adaptation: the default parameter groups),
``base_lr`` 0.2 x B/256 (``lr_scaling: linear``), ``weight_decay`` 1.5e-6, ``warmup_epochs`` 10,
cosine to 0, ``epochs`` 1000 (300 in the ablations), B = 4096. The official online linear
classifier on stop-gradient features is not part of pretraining here (the linear probe is).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from lightly.models.utils import update_momentum
from torch import nn

from ssl_core.augment.common import ViewSpec, asymmetric_views
from ssl_core.backbones import zero_init_residual_blocks
from ssl_core.methods.base import METHODS, Method, MethodOutput, StepInfo, frozen_copy, momentum_at

LABEL = "BYOL"
RECIPE_SCHEMA = {  # the recipe's own keys (the table above; ssl_core.methods.base)
    "allOf": [{"$ref": "#/$defs/asymmetric_views"}],  # min_scale, blur_probs
    "properties": {
        "tau_base": {"type": "number", "minimum": 0, "maximum": 1,
                     "description": "target EMA decay at step 0, cosine to 1 (official 0.996)"},
        "proj_hidden_dim": {"$ref": "#/$defs/posint"},
        "pred_hidden_dim": {"$ref": "#/$defs/posint"},
        "proj_out_dim": {"$ref": "#/$defs/posint"},
        "zero_init_residual": {"type": "boolean"},
    },
    "required": ["tau_base", "proj_hidden_dim", "pred_hidden_dim", "proj_out_dim"],
}


def mlp(input_dim: int, hidden_dim: int, output_dim: int) -> nn.Sequential:
    """networks.py ``MLP``: Linear (bias) - BatchNorm - ReLU - Linear (no bias), haiku's init."""
    net = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
                        nn.Linear(hidden_dim, output_dim, bias=False))
    for m in net:
        if isinstance(m, nn.Linear):  # hk.Linear: TruncatedNormal(1 / sqrt(fan_in)), zero bias
            std = 1.0 / math.sqrt(m.in_features)
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def regression_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """helpers.py ``regression_loss``: 2 - 2 cos(x, y) per row."""
    return 2 - 2 * (F.normalize(x, dim=-1) * F.normalize(y, dim=-1)).sum(dim=-1)


@METHODS.register("byol")
class BYOL(Method):
    #: Which features the rescue term uses: the online projector output, before the predictor.
    rescue_features = "projector"

    def __init__(self, backbone: nn.Module, proj_hidden_dim: int = 4096, proj_out_dim: int = 256,
                 pred_hidden_dim: int = 4096, tau_base: float = 0.996, zero_init_residual: bool = True) -> None:
        super().__init__()
        if zero_init_residual:
            zero_init_residual_blocks(backbone)
        self.tau_base = tau_base
        self.backbone = backbone
        self.projector = mlp(backbone.feature_dim, proj_hidden_dim, proj_out_dim)
        self.predictor = mlp(proj_out_dim, pred_hidden_dim, proj_out_dim)
        # byol_experiment.py: the target starts as the online network's f and g and gets no gradient.
        self.target_backbone = frozen_copy(backbone)
        self.target_projector = frozen_copy(self.projector)

    @classmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "BYOL":
        return cls(backbone, proj_hidden_dim=recipe["proj_hidden_dim"], proj_out_dim=recipe["proj_out_dim"],
                   pred_hidden_dim=recipe["pred_hidden_dim"], tau_base=recipe["tau_base"],
                   zero_init_residual=recipe.get("zero_init_residual", True))

    @staticmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        """augmentations.py ``byol_augment`` view 1 / view 2: crop (scale min_scale-1, bicubic) and
        flip, colour jitter (0.4, 0.4, 0.2, 0.1) in random order with p 0.8, greyscale p 0.2, blur
        (sigma 0.1-2, kernel 10 % of the side) p 1.0 / 0.1, solarisation p 0 / 0.2."""
        return asymmetric_views(recipe, interpolation="bicubic")

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """z = g(f(x)), the online projector output."""
        return self.projector(self.backbone(images))

    def tau(self, step: StepInfo | None) -> float:
        return self.tau_base if step is None else momentum_at(step.progress, self.tau_base)

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        x1, x2 = views[0], views[1]
        z1, z2 = self.embed(x1), self.embed(x2)  # one pass per view; view 0 first (rescue.bn common)
        q1, q2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            t1 = self.target_projector(self.target_backbone(x1))
            t2 = self.target_projector(self.target_backbone(x2))
        loss = (regression_loss(q1, t2) + regression_loss(q2, t1)).mean()
        return MethodOutput(loss, z1, z2, {"tau": self.tau(step)})

    @torch.no_grad()
    def on_after_optimizer_step(self, step: StepInfo) -> None:
        """byol_experiment.py ``_update_fn``: after the online update, the target's parameters move
        to tau target + (1 - tau) online with this step's tau."""
        tau = self.tau(step)
        update_momentum(self.backbone, self.target_backbone, tau)
        update_momentum(self.projector, self.target_projector, tau)
