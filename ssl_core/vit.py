"""Vision Transformers from timm, with the two recipe-specific changes written by hand.

- MoCo v3 (facebookresearch/moco-v3 ``vits.py``): fixed 2-D sin-cos position embedding, a frozen
  random patch projection (``stop_grad_conv1``), Q/K/V initialised as three separate matrices,
  xavier-uniform linears and the patch projection initialised like an MLP layer.
- DINOv2 (facebookresearch/dinov2 ``models/vision_transformer.py``, recipe "dinov2"): timm's
  init (the same as DINOv2's ``init_weights``), LayerScale (``init_values``), the same stochastic
  depth rate in every block (``drop_path_uniform: true`` in ``ssl_default_config.yaml``; timm
  ramps it linearly), the learned position embedding interpolated to each crop size as
  ``interpolate_pos_encoding`` does (bicubic with ``scale_factor = (grid + 0.1) / M``, no
  anti-aliasing; timm's resampling passes a size and anti-aliases), and a mask token that
  replaces masked patches for iBOT (``forward_tokens(x, masks)``).

Every ViT maps images [B, 3, H, W] to the class token [B, D] (``feature_dim`` = D).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from timm.models._manipulate import checkpoint_seq
from timm.models.vision_transformer import VisionTransformer
from torch import nn

# name -> (embed_dim, depth, num_heads); patch size and image size are options.
VIT_SIZES = {
    "vit_tiny_test": (96, 4, 3),    # the tiny profile's ViT (~0.45 M parameters at patch 4)
    # The CPU profiles' stand-ins for MoCo v3's ViT-S and ViT-B: the paper's pair scaled down with
    # its logic (the same depth, ViT-B twice the width and twice the heads: 384 -> 768, 6 -> 12,
    # head width 64 in both), here 64 -> 128 wide, 2 -> 4 heads of 32, 4 layers (docs/profiles.md).
    "vit_s_tiny": (64, 4, 2),
    "vit_b_tiny": (128, 4, 4),
    "vit_small": (384, 12, 6),
    "vit_base": (768, 12, 12),
    "vit_large": (1024, 24, 16),
    "vit_huge": (1280, 32, 16),
}


def sincos_2d(grid_h: int, grid_w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """MoCo v3's ``build_2d_sincos_position_embedding`` (without the class token's zero row)."""
    if dim % 4:
        raise ValueError(f"embed_dim {dim} must be divisible by 4 for the 2-D sin-cos embedding")
    gw, gh = torch.meshgrid(torch.arange(grid_w, dtype=torch.float32), torch.arange(grid_h, dtype=torch.float32),
                            indexing="ij")
    pos_dim = dim // 4
    omega = 1.0 / temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim)
    out_w = gw.flatten()[:, None] * omega[None]
    out_h = gh.flatten()[:, None] * omega[None]
    return torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)[None]


class ViT(VisionTransformer):
    """timm's VisionTransformer returning the class token, plus a mask token for iBOT."""

    def __init__(self, *, mask_token: bool = False, interpolate_offset: float | None = None,
                 global_pool: str = "token", **kwargs) -> None:
        if global_pool not in ("token", "avg"):
            raise ValueError(f"global_pool is token or avg, not {global_pool!r}")
        super().__init__(num_classes=0, global_pool=global_pool, **kwargs)
        self.feature_dim = self.embed_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim)) if mask_token else None
        self.interpolate_offset = interpolate_offset

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        """timm's, or with ``interpolate_offset`` DINOv2's ``prepare_tokens_with_masks`` /
        ``interpolate_pos_encoding`` (x: patch embeddings [B, H, W, D])."""
        if self.interpolate_offset is None:
            return super()._pos_embed(x)
        b, h, w, d = x.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1), x.reshape(b, h * w, d)], dim=1)
        return self.pos_drop(x + dinov2_pos_embed(self.pos_embed, h, w, self.interpolate_offset))

    def forward_tokens(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """All output tokens [B, 1 + P, D] (normalised); ``masks`` [B, P] bool replaces those
        patches' embeddings by the mask token before the position embedding (DINOv2's
        ``prepare_tokens_with_masks``)."""
        x = self.patch_embed(x)
        if masks is not None:
            if self.mask_token is None:
                raise ValueError("this ViT was built without a mask token (mask_token=True)")
            flat = x.reshape(x.shape[0], -1, x.shape[-1])
            flat = torch.where(masks[..., None], self.mask_token.to(flat.dtype), flat)
            x = flat.reshape(x.shape)
        x = self._pos_embed(x)
        x = self.norm_pre(self.patch_drop(x))
        if self.grad_checkpointing and torch.is_grad_enabled():
            # each block's activations recomputed in the backward (its input kept, the RNG state of
            # its stochastic depth restored): the same gradients in about a block's memory
            x = checkpoint_seq(self.blocks, x, use_reentrant=False)
        else:
            x = self.blocks(x)
        return self.norm(x)


def dinov2_pos_embed(pos_embed: torch.Tensor, h: int, w: int, offset: float) -> torch.Tensor:
    """dinov2 ``DinoVisionTransformer.interpolate_pos_encoding``: the patch part of the learned
    [1, 1 + M*M, D] embedding resized to an h x w grid (class token's entry kept)."""
    n = pos_embed.shape[1] - 1
    m = math.isqrt(n)
    if h * w == n and h == w:
        return pos_embed
    patch = pos_embed[:, 1:].float().reshape(1, m, m, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, scale_factor=((h + offset) / m, (w + offset) / m), mode="bicubic", antialias=False)
    if patch.shape[-2:] != (h, w):
        raise ValueError(f"position embedding resized to {tuple(patch.shape[-2:])}, expected {(h, w)}")
    patch = patch.permute(0, 2, 3, 1).reshape(1, h * w, -1)
    return torch.cat([pos_embed[:, :1], patch.to(pos_embed.dtype)], dim=1)


def _moco_v3_init(model: ViT, patch_size: int) -> None:
    """moco-v3 ``vits.py`` VisionTransformerMoCo.__init__."""
    h, w = model.patch_embed.grid_size
    pos = sincos_2d(h, w, model.embed_dim)
    model.pos_embed = nn.Parameter(torch.cat([torch.zeros(1, 1, model.embed_dim), pos], dim=1), requires_grad=False)
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            if "qkv" in name:  # treat the weights of Q, K, V separately
                val = math.sqrt(6.0 / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                nn.init.uniform_(m.weight, -val, val)
            else:
                nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    nn.init.normal_(model.cls_token, std=1e-6)
    val = math.sqrt(6.0 / float(3 * patch_size * patch_size + model.embed_dim))
    nn.init.uniform_(model.patch_embed.proj.weight, -val, val)
    nn.init.zeros_(model.patch_embed.proj.bias)


def build_vit(size: str, *, img_size: int = 224, patch_size: int = 16, recipe: str = "timm",
              stop_grad_patch_embed: bool = False, drop_path_rate: float = 0.0,
              init_values: float | None = None, mask_token: bool = False, num_heads: int | None = None,
              global_pool: str = "token", activation_checkpointing: bool = False) -> ViT:
    """``recipe``: "mocov3" (sin-cos position embedding + MoCo v3 init), "timm" (learned,
    interpolated to every input size by timm) or "dinov2" (learned, interpolated as DINOv2 does for
    its 224 and 96 px crops; uniform stochastic depth).
    ``global_pool``: the feature is the class token ("token", every official recipe) or the mean of
    the patch tokens ("avg", timm's: LayerNorm after the mean; a CPU-scale option).
    ``activation_checkpointing``: recompute each block in the backward instead of keeping its
    activations (the paper profile's DINOv2 ViT-L: docs/scaling.md; no official recipe does).
    ``num_heads`` overrides the size's default: MoCo v3's ViT-S has 12 heads (moco-v3 ``vits.py``
    ``vit_small``), timm's and DINOv2's have 6; the parameter count is the same."""
    dim, depth, heads = VIT_SIZES[size]
    heads = num_heads or heads
    if recipe not in ("mocov3", "timm", "dinov2"):
        raise ValueError(f"unknown ViT recipe {recipe!r} (mocov3, timm, dinov2)")
    model = ViT(img_size=img_size, patch_size=patch_size, embed_dim=dim, depth=depth, num_heads=heads,
                drop_path_rate=drop_path_rate, init_values=init_values, mask_token=mask_token,
                dynamic_img_size=recipe != "mocov3", interpolate_offset=0.1 if recipe == "dinov2" else None,
                global_pool=global_pool)
    if recipe == "mocov3":
        _moco_v3_init(model, patch_size)
    if recipe == "dinov2" and drop_path_rate > 0:  # dinov2 vision_transformer.py: dpr = [rate] * depth
        for block in model.blocks:
            block.drop_path1, block.drop_path2 = DropPath(drop_path_rate), DropPath(drop_path_rate)
    if stop_grad_patch_embed:  # MoCo v3 §4.1: a random, frozen patch projection stabilises training
        model.patch_embed.proj.weight.requires_grad = False
        model.patch_embed.proj.bias.requires_grad = False
    if mask_token:
        nn.init.zeros_(model.mask_token)
    model.set_grad_checkpointing(activation_checkpointing)
    return model
