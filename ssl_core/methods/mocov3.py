"""MoCo v3 (Chen, Xie, He, ICCV 2021; facebookresearch/moco-v3 ``moco/builder.py``,
``main_moco.py``, ``moco/loader.py``, ``moco/optimizer.py``).

f = backbone, g = projector MLP, h = predictor MLP (builder.py ``_build_mlp``: Linear without bias
+ BN + ReLU per hidden layer, last Linear without bias + BN(affine=False) when ``last_bn``).
The momentum encoder is a copy of f and g, updated by EMA *inside* ``forward`` before the keys
are computed (builder.py ``MoCo.forward``), with the half-cosine momentum schedule of
main_moco.py ``adjust_moco_momentum`` (every official config passes ``--moco-m-cos``).

loss = ctr(q1, k2) + ctr(q2, k1), q = h(g(f(x))), k = g_m(f_m(x)); ctr = InfoNCE over the keys of
*all* processes gathered without gradient, positives at ``rank * N + i``, times 2 tau
(builder.py ``contrastive_loss``). Each view goes through the encoders in its own forward pass,
so BatchNorm statistics are per view, as in the official code.

Recipe keys (official values; R50 = CONFIG.md "ResNet-50, 100/300/1000-epoch pre-training",
ViT = CONFIG.md / README.md "ViT-Small/ViT-Base" commands; defaults are main_moco.py argparse):

==================  ===========================================  ========================  ==========================
key                 meaning                                      ResNet-50                 ViT-S / ViT-B
==================  ===========================================  ========================  ==========================
temperature         softmax temperature tau (``--moco-t``)       1.0 (main_moco.py L104    0.2 (``--moco-t=.2``,
                                                                 default)                  CONFIG.md L113/L130/L160)
momentum_base       base EMA momentum (``--moco-m``), raised to  0.99 (L99 default;        0.99 (L99 default)
                    1 by the half cosine                         100/300 ep); 0.996 for
                                                                 1000 ep (CONFIG.md L45)
momentum_cosine     optional, default true: the cosine schedule  true (``--moco-m-cos``,  true (CONFIG.md L113...)
                    (false = constant ``momentum_base``)         CONFIG.md L15/L30/L45)
proj_hidden_dim     hidden width of projector and predictor      4096 (``--moco-mlp-dim``  4096
                    (builder.py uses one ``mlp_dim`` for both)   L97)
pred_hidden_dim     hidden width of the predictor                4096                      4096
proj_out_dim        output dim of projector/predictor (``dim``)  256 (``--moco-dim`` L95)  256
proj_layers         optional: projector depth; default from the  2 (builder.py             3 (builder.py
                    backbone (ViT 3, else 2)                     MoCo_ResNet)              MoCo_ViT)
pred_last_bn        optional: BN(affine=False) after the last    false (builder.py         true (builder.py MoCo_ViT
                    predictor layer; default from the backbone   MoCo_ResNet: last_bn=     calls _build_mlp with the
                    (ViT true, else false)                       False)                    default last_bn=True)
zero_init_residual  optional, default true: zero-init the last   true (main_moco.py L186)  n/a (ignored)
                    BN gamma of each ResNet residual block
image_size          crop side                                    224 (L263)                224
min_scale           RandomResizedCrop lower scale (``--crop-     0.2 (CONFIG.md            0.08 (L117 default; the
                    min``)                                       ``--crop-min=.2``)        ViT commands do not set it)
blur_probs          optional, default [1.0, 0.1]: Gaussian-blur  [1.0, 0.1] (L268/L280)    [1.0, 0.1]
                    probability of view 1 and view 2 (BYOL's
                    asymmetric recipe; e.g. [0, 0] for tiny
                    images)
==================  ===========================================  ========================  ==========================

Recipe keys the trainer reads, official values: R50 ``optimizer: lars``, ``base_lr`` 0.6 (100 ep)
/ 0.3 (300, 1000 ep) x B/256, ``weight_decay`` 1e-6 (1.5e-6 at 1000 ep), ``warmup_epochs`` 10,
B = 4096; ViT ``optimizer: adamw``, ``base_lr`` 1.5e-4 x B/256, ``weight_decay`` 0.1,
``warmup_epochs`` 40, 300 epochs, B = 4096 (1024 in the 1-node ViT-S command). ViT also needs the
backbone options ``recipe: mocov3`` and ``stop_grad_patch_embed: true`` (``--stop-grad-conv1``).
Note: the official AdamW uses torch's default betas (0.9, 0.999) (main_moco.py L229).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightly.models.utils import update_momentum
from torch import nn

from ssl_core import distributed
from ssl_core.augment.common import ViewSpec, asymmetric_views
from ssl_core.backbones import is_vit, zero_init_residual_blocks
from ssl_core.methods.base import METHODS, Method, MethodOutput, StepInfo, frozen_copy, momentum_at


LABEL = "MoCo v3"
RECIPE_SCHEMA = {  # the recipe's own keys (the table above; ssl_core.methods.base)
    "allOf": [{"$ref": "#/$defs/asymmetric_views"}],  # min_scale, blur_probs
    "properties": {
        "temperature": {"type": "number", "exclusiveMinimum": 0},
        "momentum_base": {"type": "number", "minimum": 0, "maximum": 1},
        "momentum_cosine": {"type": "boolean"},
        "proj_hidden_dim": {"$ref": "#/$defs/posint"},
        "pred_hidden_dim": {"$ref": "#/$defs/posint"},
        "proj_out_dim": {"$ref": "#/$defs/posint"},
        "proj_layers": {"$ref": "#/$defs/posint"},
        "pred_last_bn": {"type": "boolean"},
        "zero_init_residual": {"type": "boolean"},
    },
    "required": ["temperature", "momentum_base", "proj_hidden_dim", "pred_hidden_dim", "proj_out_dim"],
}


def build_mlp(num_layers: int, input_dim: int, mlp_dim: int, output_dim: int, last_bn: bool = True) -> nn.Sequential:
    """builder.py ``MoCo._build_mlp`` (no lightly head has bias-free linears and BN(affine=False))."""
    mlp: list[nn.Module] = []
    for layer in range(num_layers):
        dim1 = input_dim if layer == 0 else mlp_dim
        dim2 = output_dim if layer == num_layers - 1 else mlp_dim
        mlp.append(nn.Linear(dim1, dim2, bias=False))
        if layer < num_layers - 1:
            mlp.append(nn.BatchNorm1d(dim2))
            mlp.append(nn.ReLU(inplace=True))
        elif last_bn:
            mlp.append(nn.BatchNorm1d(dim2, affine=False))
    return nn.Sequential(*mlp)


def contrastive_loss(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    """builder.py ``MoCo.contrastive_loss``: InfoNCE of the local queries against the keys of all
    processes, the positive of query i being key ``rank * N + i``; scaled by 2 tau."""
    q = F.normalize(q, dim=1)
    k = distributed.gather_no_grad(F.normalize(k, dim=1))
    logits = torch.einsum("nc,mc->nm", q, k) / temperature
    n = logits.shape[0]
    labels = torch.arange(n, dtype=torch.long, device=logits.device) + n * distributed.rank()
    return F.cross_entropy(logits, labels) * (2 * temperature)


@METHODS.register("mocov3")
class MoCoV3(Method):
    #: Which features the rescue term uses: the online projector output, before the predictor.
    rescue_features = "projector"

    def __init__(self, backbone: nn.Module, proj_hidden_dim: int = 4096, proj_out_dim: int = 256,
                 pred_hidden_dim: int = 4096, temperature: float = 1.0, momentum_base: float = 0.99,
                 proj_layers: int | None = None, pred_last_bn: bool | None = None,
                 momentum_cosine: bool = True, optimizer: str = "lars", zero_init_residual: bool = True) -> None:
        super().__init__()
        vit = is_vit(backbone)
        if proj_layers is None:
            proj_layers = 3 if vit else 2  # builder.py MoCo_ViT / MoCo_ResNet
        if pred_last_bn is None:
            pred_last_bn = vit  # MoCo_ViT: default last_bn=True; MoCo_ResNet: last_bn=False
        if optimizer not in ("lars", "adamw"):
            raise ValueError(f"MoCo v3 uses lars or adamw (main_moco.py), not {optimizer!r}")
        if zero_init_residual and not vit:
            zero_init_residual_blocks(backbone)  # main_moco.py L186
        self.temperature = temperature
        self.momentum_base = momentum_base
        self.momentum_cosine = momentum_cosine
        self.optimizer = optimizer
        self.backbone = backbone
        self.projector = build_mlp(proj_layers, backbone.feature_dim, proj_hidden_dim, proj_out_dim)
        self.predictor = build_mlp(2, proj_out_dim, pred_hidden_dim, proj_out_dim, last_bn=pred_last_bn)
        # builder.py: the momentum encoder starts as a copy of the base encoder (with its projector)
        # and is never updated by gradient.
        self.momentum_backbone = frozen_copy(backbone)
        self.momentum_projector = frozen_copy(self.projector)

    @classmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "MoCoV3":
        return cls(
            backbone,
            proj_hidden_dim=recipe["proj_hidden_dim"],
            proj_out_dim=recipe["proj_out_dim"],
            pred_hidden_dim=recipe["pred_hidden_dim"],
            temperature=recipe["temperature"],
            momentum_base=recipe["momentum_base"],
            proj_layers=recipe.get("proj_layers"),
            pred_last_bn=recipe.get("pred_last_bn"),
            momentum_cosine=recipe.get("momentum_cosine", True),
            optimizer=recipe["optimizer"],
            zero_init_residual=recipe.get("zero_init_residual", True),
        )

    @staticmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        """main_moco.py ``augmentation1`` / ``augmentation2`` (BYOL's two views), moco/loader.py
        ``TwoCropsTransform``; PIL's Gaussian blur and ``ImageOps.solarize``. The flip comes right after
        the crop here (it commutes with the pointwise ops and the symmetric blur, so the views'
        distribution is the official one)."""
        return asymmetric_views(recipe)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """z = g(f(x)), the online projector output."""
        return self.projector(self.backbone(images))

    def momentum(self, step: StepInfo | None) -> float:
        if not self.momentum_cosine or step is None:
            return self.momentum_base
        return momentum_at(step.step / max(1, step.total_steps), self.momentum_base)

    @torch.no_grad()
    def update_momentum_encoder(self, m: float) -> None:
        """builder.py ``_update_momentum_encoder``: parameters only (BN buffers are the momentum
        encoder's own), param_m = m * param_m + (1 - m) * param_b."""
        update_momentum(self.backbone, self.momentum_backbone, m)
        update_momentum(self.projector, self.momentum_projector, m)

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        x1, x2 = views[0], views[1]
        m = self.momentum(step)
        # builder.py MoCo.forward: one pass per view (per-view BN statistics).
        z1, z2 = self.embed(x1), self.embed(x2)
        q1, q2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            self.update_momentum_encoder(m)
            k1 = self.momentum_projector(self.momentum_backbone(x1))
            k2 = self.momentum_projector(self.momentum_backbone(x2))
        loss = contrastive_loss(q1, k2, self.temperature) + contrastive_loss(q2, k1, self.temperature)
        return MethodOutput(loss, z1, z2, {"momentum": m})

    def param_groups(self, weight_decay: float) -> list[dict]:
        """The official optimisers get ``model.parameters()`` (main_moco.py L224-230):
        - LARS (moco/optimizer.py): tensors with ndim <= 1 get neither weight decay nor the trust-ratio
          scaling -> a no-decay group (lightly's LARS skips the scaling where weight_decay == 0);
        - AdamW: weight decay on every parameter, biases and norms included -> one group.
        Only trainable parameters; the momentum encoder (requires_grad False) is never included."""
        trainable = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer == "adamw":
            return [{"params": trainable, "weight_decay": weight_decay, "wd_mult": 1.0}]
        decay = [p for p in trainable if p.ndim > 1]
        no_decay = [p for p in trainable if p.ndim <= 1]
        return [{"params": decay, "weight_decay": weight_decay, "wd_mult": 1.0},
                {"params": no_decay, "weight_decay": 0.0, "wd_mult": 0.0}]
