"""DINOv2 (Oquab et al., TMLR 2024; facebookresearch/dinov2 ``dinov2/train/ssl_meta_arch.py``,
``train/train.py``, ``data/augmentations.py``, ``utils/param_groups.py``,
``configs/ssl_default_config.yaml``, ``configs/train/vitl16_short.yaml``).

Student = ViT f + DINO head h (3-layer MLP to a bottleneck, l2 normalisation, weight-normed
prototype layer: lightly's ``DINOv2ProjectionHead`` is the official ``DINOHead``); teacher = an EMA
copy of both, never trained, always in eval mode (no stochastic depth). Per step:

- the teacher sees the 2 global crops; the student sees them with iBOT's block masks and, without
  masks, the local crops;
- L = DINO class-token loss (``ssl_core/losses/dino_clstoken.py``) + iBOT masked-patch loss through
  the same head (``ibot_patch.py``) + 0.1 x KoLeo on the student's pre-head class token of each
  global crop (``koleo.py``); teacher targets by centering or Sinkhorn-Knopp (``centering.py``)
  at the teacher temperature, linearly warmed up from 0.04 to 0.07 over 30 epochs;
- after the optimiser step, teacher = m teacher + (1 - m) student, m from 0.992 to 1 (half cosine).

The rescue features (views 0 and 1 = the 2 global crops) are the student head's bottleneck
embedding of the class token, before the l2 normalisation and the prototype layer; z_a, z_b come
from the masked global crops of this forward (the student's only pass over them) and ``embed``
sends the strong views through the same unmasked path. The backbone evaluated is the teacher's
(the official ``do_test`` saves, and the released models are, the teacher).

Recipe keys (official values: ``ssl_default_config.yaml``, which ``vitl16_short.yaml`` keeps but
for the batch of 64 per GPU and ``block_chunks``, an FSDP detail):

=============================  ========================================================  ===============
key                            meaning                                                   official
=============================  ========================================================  ===============
head_n_prototypes              K, prototypes of the DINO head (shared by iBOT)           65536
head_hidden_dim                hidden width of the head's MLP                            2048
head_bottleneck_dim            bottleneck width (the rescue features)                    256
centering                      ``centering`` or ``sinkhorn_knopp`` (``train.centering``)  centering
momentum_teacher               EMA momentum at step 0, cosine to 1                       0.992
warmup_teacher_temp            teacher temperature at step 0                             0.04
teacher_temp                   teacher temperature after the warm-up                     0.07
warmup_teacher_temp_epochs     length of the linear warm-up                              30
koleo_loss_weight              KoLeo weight                                              0.1
ibot_loss_weight               iBOT weight (0 = no masks, no iBOT)                       1.0
mask_sample_probability        share of global-crop images that are masked               0.5
mask_ratio_min_max             range of the masked share of patches                      [0.1, 0.5]
global_crops_scale             RandomResizedCrop scale of the global crops               [0.32, 1.0]
local_crops_scale              RandomResizedCrop scale of the local crops                [0.05, 0.32]
local_crops_number             local crops per image                                     8
local_crops_size               local crop side (the global side is ``image_size``, 224)  96
blur_probs                     optional: Gaussian-blur probability of global crop 1,     [0.0, 0.9, 0.5]
                               global crop 2, local crops (see ``view_specs``)
layerwise_decay                lr x rate^(depth - block) per ViT block                   0.9
patch_embed_lr_mult            extra lr factor of the patch embedding                    0.2
clip_grad_per_module           gradient-norm clip of backbone and head, each on its own  3.0
=============================  ========================================================  ===============

Keys the trainer reads: ``optimizer: adamw`` (betas 0.9, 0.999), ``base_lr`` 0.004 with
``lr_scaling: sqrt`` and ``lr_ref_batch: 1024`` (``scaling_rule: sqrt_wrt_1024``), ``min_lr``
1e-6, ``warmup_epochs`` 10, ``weight_decay`` 0.04 to ``weight_decay_end`` 0.4 (cosine),
``freeze_last_layer_epochs`` 1, ``epochs`` 100, ``epoch_length`` (``OFFICIAL_EPOCH_LENGTH``: 1250);
backbone ``recipe: dinov2``, ``patch_size`` 16, ``drop_path_rate`` 0.3 (uniform),
``init_values`` 1e-5 (LayerScale), ``mask_token: true``.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import DINOv2ProjectionHead
from lightly.models.utils import update_momentum
from torch import nn

from ssl_core.augment.common import ViewSpec
from ssl_core.losses.dino_clstoken import DINOClsTokenLoss
from ssl_core.losses.ibot_patch import IBOTPatchLoss
from ssl_core.losses.koleo import koleo_loss
from ssl_core.masking import BlockMaskGenerator, batch_masks
from ssl_core.methods.base import METHODS, Method, MethodOutput, StepInfo, momentum_at

LABEL = "DINOv2"
RECIPE_SCHEMA = {  # the recipe's own keys (the table above; ssl_core.methods.base)
    "properties": {
        "head_n_prototypes": {"$ref": "#/$defs/posint"},
        "head_hidden_dim": {"$ref": "#/$defs/posint"},
        "head_bottleneck_dim": {"$ref": "#/$defs/posint"},
        "centering": {"enum": ["centering", "sinkhorn_knopp"]},
        "momentum_teacher": {"type": "number", "minimum": 0, "maximum": 1},
        "warmup_teacher_temp": {"type": "number", "exclusiveMinimum": 0},
        "teacher_temp": {"type": "number", "exclusiveMinimum": 0},
        "warmup_teacher_temp_epochs": {"type": "integer", "minimum": 0},
        "koleo_loss_weight": {"type": "number", "minimum": 0},
        "ibot_loss_weight": {"type": "number", "minimum": 0},
        "mask_sample_probability": {"type": "number", "minimum": 0, "maximum": 1},
        "mask_ratio_min_max": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                               "minItems": 2, "maxItems": 2},
        "global_crops_scale": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                               "minItems": 2, "maxItems": 2},
        "local_crops_scale": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                              "minItems": 2, "maxItems": 2},
        "local_crops_number": {"type": "integer", "minimum": 0},
        "local_crops_size": {"$ref": "#/$defs/posint"},
        "blur_probs": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                       "minItems": 3, "maxItems": 3},
        "layerwise_decay": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "patch_embed_lr_mult": {"type": "number", "minimum": 0},
        "clip_grad_per_module": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": ["head_n_prototypes", "head_hidden_dim", "head_bottleneck_dim", "centering", "momentum_teacher",
                 "warmup_teacher_temp", "teacher_temp", "warmup_teacher_temp_epochs", "koleo_loss_weight",
                 "ibot_loss_weight", "mask_sample_probability", "mask_ratio_min_max", "global_crops_scale",
                 "local_crops_scale", "local_crops_number", "local_crops_size", "layerwise_decay",
                 "patch_embed_lr_mult"],
}

#: Effective blur probabilities of the official pipeline (global crop 1, global crop 2, local
#: crops). dinov2 ``data/transforms.py`` ``GaussianBlur(p)`` hands ``1 - p`` to ``RandomApply``,
#: so ``augmentations.py``'s p = 1.0 / 0.1 / 0.5 blur with probability 0 / 0.9 / 0.5; the released
#: models and the paper's runs were trained so (facebookresearch/dinov2 PR #411, dinov3 #286).
OFFICIAL_BLUR_PROBS = (0.0, 0.9, 0.5)


def teacher_temp_at(step: int, warmup_steps: int, start: float, end: float) -> float:
    """train.py ``teacher_temp_schedule``: ``np.linspace(start, end, warmup_steps)`` (the end
    value reached at the last warm-up step), then constant."""
    if step >= warmup_steps:
        return end
    return start + (end - start) * step / max(1, warmup_steps - 1)


def lr_decay_rate(name: str, rate: float, num_layers: int) -> float:
    """param_groups.py ``get_vit_lr_decay_rate`` for a parameter of the backbone (``name`` relative
    to it): embeddings and tokens are layer 0, block i is layer i + 1, the rest (final norm) layer
    L + 1; the lr multiplier is rate^(L + 1 - layer)."""
    layer = num_layers + 1
    if any(key in name for key in ("pos_embed", "patch_embed", "mask_token", "cls_token", "register_tokens")):
        layer = 0
    elif name.startswith("blocks."):
        layer = int(name.split(".")[1]) + 1
    return rate ** (num_layers + 1 - layer)


def _dinov2_crop(size: int, scale: tuple[float, float], blur_prob: float, solarize_prob: float) -> ViewSpec:
    """augmentations.py ``DataAugmentationDINO``: bicubic random resized crop + flip, colour jitter
    (0.4, 0.4, 0.2, 0.1) with p 0.8, greyscale p 0.2, Gaussian blur (kernel 9, sigma 0.1-2),
    solarisation, ImageNet normalisation."""
    return ViewSpec(size, tuple(scale), blur_prob=blur_prob, blur_kernel=9, solarize_prob=solarize_prob,
                    interpolation="bicubic")


def _dino_head(in_dim: int, hidden_dim: int, bottleneck_dim: int, n_prototypes: int) -> DINOv2ProjectionHead:
    """layers/dino_head.py ``DINOHead`` (3 layers, no BN). Like the official head, lightly's uses
    ``torch.nn.utils.weight_norm`` (parameters ``weight_g``/``weight_v``), deprecated by torch in
    favour of a parametrisation that renames them; its warning is silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return DINOv2ProjectionHead(in_dim, hidden_dim, bottleneck_dim, n_prototypes)


def head_with_bottleneck(head: DINOv2ProjectionHead, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``DINOv2ProjectionHead.forward`` (= dinov2 ``layers/dino_head.py``) that also returns the
    bottleneck embedding, the MLP output before the l2 normalisation and the prototype layer."""
    z = head.layers(x)
    eps = 1e-6 if z.dtype == torch.float16 else 1e-12
    return z, head.last_layer(F.normalize(z, dim=-1, p=2, eps=eps))


@METHODS.register("dinov2")
class DINOv2(Method):
    #: Which features the rescue term uses: the student DINO head's bottleneck embedding.
    rescue_features = "head_bottleneck"

    def __init__(self, backbone: nn.Module, head_n_prototypes: int = 65536, head_hidden_dim: int = 2048,
                 head_bottleneck_dim: int = 256, centering: str = "centering", momentum_teacher: float = 0.992,
                 warmup_teacher_temp: float = 0.04, teacher_temp: float = 0.07,
                 warmup_teacher_temp_epochs: int = 30, koleo_loss_weight: float = 0.1,
                 ibot_loss_weight: float = 1.0, mask_sample_probability: float = 0.5,
                 mask_ratio_min_max: tuple[float, float] = (0.1, 0.5), layerwise_decay: float = 0.9,
                 patch_embed_lr_mult: float = 0.2, clip_grad_per_module: float | None = 3.0) -> None:
        super().__init__()
        if getattr(backbone, "mask_token", None) is None and ibot_loss_weight > 0:
            raise ValueError("DINOv2's iBOT loss needs a ViT with a mask token (backbone mask_token: true)")
        if ibot_loss_weight > 0 and not (mask_sample_probability > 0 and max(mask_ratio_min_max) > 0):
            raise ValueError("iBOT needs a positive mask_sample_probability and mask ratio (ssl_meta_arch.py asserts)")
        self.backbone = backbone
        self.head = _dino_head(backbone.feature_dim, head_hidden_dim, head_bottleneck_dim, head_n_prototypes)
        # ssl_meta_arch.py: the teacher is built alike, loads the student's weights and gets no gradient.
        self.teacher_backbone = copy.deepcopy(backbone)
        self.teacher_head = _dino_head(backbone.feature_dim, head_hidden_dim, head_bottleneck_dim, head_n_prototypes)
        self.teacher_head.load_state_dict(self.head.state_dict())
        for p in list(self.teacher_backbone.parameters()) + list(self.teacher_head.parameters()):
            p.requires_grad = False
        self.dino_loss = DINOClsTokenLoss(head_n_prototypes, centering)
        self.ibot_loss = IBOTPatchLoss(head_n_prototypes, centering)
        self.momentum_teacher = momentum_teacher
        self.teacher_temps = (warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs)
        self.koleo_loss_weight = koleo_loss_weight
        self.ibot_loss_weight = ibot_loss_weight
        self.mask_ratio = tuple(mask_ratio_min_max)
        self.mask_probability = mask_sample_probability
        self.layerwise_decay = layerwise_decay
        self.patch_embed_lr_mult = patch_embed_lr_mult
        self.clip_grad_per_module = clip_grad_per_module

    @classmethod
    def from_recipe(cls, backbone: nn.Module, recipe: dict[str, Any]) -> "DINOv2":
        keys = ("head_n_prototypes", "head_hidden_dim", "head_bottleneck_dim", "centering", "momentum_teacher",
                "warmup_teacher_temp", "teacher_temp", "warmup_teacher_temp_epochs", "koleo_loss_weight",
                "ibot_loss_weight", "mask_sample_probability", "mask_ratio_min_max", "layerwise_decay",
                "patch_embed_lr_mult", "clip_grad_per_module")
        return cls(backbone, **{key: recipe[key] for key in keys if key in recipe})

    @staticmethod
    def view_specs(recipe: dict[str, Any]) -> list[ViewSpec]:
        """augmentations.py: 2 global crops (``image_size``; the second one solarised with p 0.2)
        then ``local_crops_number`` local crops (``local_crops_size``)."""
        blur = recipe.get("blur_probs", OFFICIAL_BLUR_PROBS)
        global1 = _dinov2_crop(recipe["image_size"], recipe["global_crops_scale"], blur[0], 0.0)
        global2 = _dinov2_crop(recipe["image_size"], recipe["global_crops_scale"], blur[1], 0.2)
        local = _dinov2_crop(recipe["local_crops_size"], recipe["local_crops_scale"], blur[2], 0.0)
        return [global1, global2] + [local] * recipe["local_crops_number"]

    @property
    def eval_backbone(self) -> nn.Module:
        return self.teacher_backbone

    def train(self, mode: bool = True) -> "DINOv2":
        """ssl_meta_arch.py ``train``: the teacher stays in eval mode."""
        super().train(mode)
        self.teacher_backbone.eval()
        self.teacher_head.eval()
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The student head's bottleneck embedding of the class token."""
        return self.head.layers(self.backbone(images))

    def teacher_temp(self, step: StepInfo | None) -> float:
        start, end, epochs = self.teacher_temps
        if step is None:
            return end
        return teacher_temp_at(step.step, epochs * step.steps_per_epoch, start, end)

    def _masks(self, images: torch.Tensor) -> torch.Tensor:
        """iBOT masks of the global crops, [2N, P] (train.py: at most half the patches per block)."""
        grid = self.backbone.patch_embed.dynamic_feat_size(images.shape[-2:])
        generator = BlockMaskGenerator(grid, max_num_patches=0.5 * grid[0] * grid[1])
        return batch_masks(images.shape[0], generator, self.mask_ratio, self.mask_probability).to(images.device)

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        """ssl_meta_arch.py ``forward_backward``, without the backward."""
        global_crops = torch.cat(views[:2])
        temp = self.teacher_temp(step)
        do_ibot = self.ibot_loss_weight > 0
        masks = self._masks(global_crops) if do_ibot else None
        with torch.no_grad():
            t_tokens = self.teacher_backbone.forward_tokens(global_crops)
            t_inputs = torch.cat([t_tokens[:, 0], t_tokens[:, 1:][masks]]) if do_ibot else t_tokens[:, 0]
            t_logits = self.teacher_head(t_inputs)
        n_cls, n_local = global_crops.shape[0], len(views) - 2

        # One pass of the student head over its class tokens, masked patches and local crops.
        s_tokens = self.backbone.forward_tokens(global_crops, masks)
        s_cls = s_tokens[:, 0]
        s_inputs = [s_cls] + ([s_tokens[:, 1:][masks]] if do_ibot else [])
        if n_local:
            s_inputs.append(self.backbone(torch.cat(views[2:])))
        bottleneck, s_logits = head_with_bottleneck(self.head, torch.cat(s_inputs))
        s_parts = list(s_logits.split([len(x) for x in s_inputs]))
        s_global = s_parts.pop(0)
        s_masked = s_parts.pop(0) if do_ibot else None
        student = list(s_global.chunk(2)) + (list(s_parts.pop(0).chunk(n_local)) if n_local else [])

        loss_dino = self.dino_loss(student, t_logits[:n_cls], temp)
        loss_koleo = sum(koleo_loss(c) for c in s_cls.chunk(2))  # not across the 2 crops of an image
        loss = loss_dino + self.koleo_loss_weight * loss_koleo
        logs = {"loss_dino": loss_dino.detach(), "loss_koleo": loss_koleo.detach(), "teacher_temp": temp}
        if do_ibot:
            loss_ibot = self.ibot_loss(s_masked, t_logits[n_cls:], masks, temp)
            loss = loss + self.ibot_loss_weight * loss_ibot
            logs["loss_ibot"] = loss_ibot.detach()  # to the host with the step's other logs, in one copy
        z_a, z_b = bottleneck[:n_cls].chunk(2)
        return MethodOutput(loss, z_a, z_b, logs)

    def on_before_optimizer_step(self, step: StepInfo) -> None:
        """train.py: ``clip_grad_norm_`` of each student module (backbone, head) on its own."""
        if self.clip_grad_per_module:
            for module in (self.backbone, self.head):
                nn.utils.clip_grad_norm_([p for p in module.parameters() if p.grad is not None],
                                         self.clip_grad_per_module)

    @torch.no_grad()
    def on_after_optimizer_step(self, step: StepInfo) -> None:
        """train.py ``model.update_teacher(mom)`` after the step, with train.py's
        ``momentum_schedule``: the half cosine from ``momentum_teacher`` to 1 over all steps."""
        m = momentum_at(step.step / max(1, step.total_steps), self.momentum_teacher)
        update_momentum(self.backbone, self.teacher_backbone, m)
        update_momentum(self.head, self.teacher_head, m)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """param_groups.py ``get_params_groups_with_decay`` + ``fuse_params_groups``, per student
        module: backbone lr x layer-wise decay (x ``patch_embed_lr_mult`` for the patch
        embedding); no weight decay on biases, norms and LayerScale gammas; the head's
        prototype layer is the "last layer" frozen during ``freeze_last_layer_epochs``."""
        num_layers = len(self.backbone.blocks)
        fused: dict[tuple, dict] = {}
        for module, is_backbone in ((self.backbone, True), (self.head, False)):
            for name, p in module.named_parameters():
                if not p.requires_grad:
                    continue
                lr_mult = lr_decay_rate(name, self.layerwise_decay, num_layers) if is_backbone else 1.0
                if "patch_embed" in name:
                    lr_mult *= self.patch_embed_lr_mult
                wd_mult = 0.0 if name.endswith(".bias") or "norm" in name or "gamma" in name else 1.0
                is_last = "last_layer" in name
                group = fused.setdefault((lr_mult, wd_mult, is_last), {
                    "params": [], "lr_mult": lr_mult, "wd_mult": wd_mult, "is_last_layer": is_last,
                    "weight_decay": weight_decay * wd_mult})
                group["params"].append(p)
        return list(fused.values())
