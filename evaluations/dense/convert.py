"""Our ``backbone.pt`` -> Detectron2 weights (a pickle that ``DetectionCheckpointer`` reads).

ResNets follow facebookresearch/moco ``detection/convert-pretrain-to-detectron2.py``: torchvision
names become Detectron2's (``conv1``/``bn1`` -> ``stem.conv1[.norm]``, ``layerN`` -> ``res{N+1}``,
``bnK`` -> ``convK.norm``, ``downsample.{0,1}`` -> ``shortcut[.norm]``), pickled with
``matching_heuristics: True`` so ``res5.*`` finds ``roi_heads.res5.*`` of the C4 model. The same
renaming covers torchvision's BasicBlock (ResNet-18/34 and the tiny ResNet) and Bottleneck.

ViTs go to the backbone of detectron2 ``projects/ViTDet`` (``backbone.net.*`` of a
``SimpleFeaturePyramid`` over ``detectron2.modeling.ViT``): timm and ViTDet share the block names
(``blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``, ``patch_embed.proj``, ``pos_embed``
with its class-token row, which ViTDet drops itself). ViTDet uses neither the class token nor the
final norm (as with the MAE checkpoints it starts from), and has no LayerScale: a DINOv2-style
``ls{1,2}.gamma`` is folded into the linear layer before it (``gamma * (W x + b)``), which is exact.

This module needs only torch: the converted names are tested without Detectron2 installed.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD
from ssl_core.io import atomic_path, load_torch

# Detectron2 takes 0-255 pixels; our backbones were trained on torchvision's normalisation
# (moco detection/configs/*_moco.yaml: PIXEL_MEAN/STD below with INPUT.FORMAT "RGB").
PIXEL_MEAN = [round(255 * m, 3) for m in IMAGENET_MEAN]
PIXEL_STD = [round(255 * s, 3) for s in IMAGENET_STD]
VIT_DROPPED = ("cls_token", "mask_token", "norm.weight", "norm.bias")  # unused by ViTDet


def resnet_key(key: str) -> str:
    """One torchvision ResNet key in Detectron2's naming (MoCo's converter, rule by rule)."""
    if "layer" not in key:
        key = "stem." + key
    for t in (1, 2, 3, 4):
        key = key.replace(f"layer{t}", f"res{t + 1}")
    for t in (1, 2, 3):
        key = key.replace(f"bn{t}", f"conv{t}.norm")
    return key.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")


def resnet_to_detectron2(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any(k.startswith("fc.") for k in state_dict):
        raise ValueError("expected a headless backbone (no fc.*): backbone.pt holds the encoder only")
    out = {resnet_key(k): v for k, v in state_dict.items()}
    if len(out) != len(state_dict):
        raise ValueError("two ResNet keys map to the same Detectron2 key")
    return out


def vit_to_detectron2(state_dict: dict[str, torch.Tensor], prefix: str = "backbone.net.") -> dict[str, torch.Tensor]:
    state = {k: v for k, v in state_dict.items() if k not in VIT_DROPPED}
    out = {}
    for key, value in state.items():
        if re.fullmatch(r"blocks\.\d+\.ls[12]\.gamma", key):
            continue  # folded below
        block = re.fullmatch(r"(blocks\.\d+)\.(attn\.proj|mlp\.fc2)\.(weight|bias)", key)
        if block:
            gamma = state.get(f"{block[1]}.{'ls1' if block[2] == 'attn.proj' else 'ls2'}.gamma")
            if gamma is not None:
                value = value * (gamma[:, None] if block[3] == "weight" else gamma)
        out[prefix + key] = value
    return out


def describe(arch: str, kwargs: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> dict[str, Any]:
    """What a Detectron2 model needs to know about the backbone to be built around these weights."""
    if arch.startswith("vit"):
        from ssl_core.vit import VIT_SIZES

        dim, depth, heads = VIT_SIZES[arch]
        return {"family": "vit", "embed_dim": dim, "depth": depth, "num_heads": kwargs.get("num_heads", heads),
                "patch_size": kwargs.get("patch_size", 16), "img_size": kwargs.get("img_size", 224)}
    stages = [1 + max(int(k.split(".")[1]) for k in state_dict if k.startswith(f"layer{i}.")) for i in (1, 2, 3, 4)]
    bottleneck = "layer1.0.conv3.weight" in state_dict
    stem = state_dict["conv1.weight"]
    return {"family": "resnet", "block": "bottleneck" if bottleneck else "basic", "blocks_per_stage": stages,
            "stem_out_channels": stem.shape[0], "stem_kernel": stem.shape[-1],
            "res2_out_channels": state_dict[f"layer1.0.conv{3 if bottleneck else 2}.weight"].shape[0],
            "width_per_group": state_dict["layer1.0.conv1.weight"].shape[0] if bottleneck else 64}


def convert_backbone(backbone_pt: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the Detectron2 pickle of ``backbone_pt`` (loaded with ``weights_only=True``) to ``out``
    and return the backbone's description (:func:`describe`)."""
    state = load_torch(backbone_pt)
    sd, arch = state["state_dict"], state["arch"]
    info = describe(arch, state.get("kwargs", {}), sd)
    weights = vit_to_detectron2(sd) if info["family"] == "vit" else resnet_to_detectron2(sd)
    blob = {"model": {k: v.detach().cpu().numpy() for k, v in weights.items()},
            "__author__": "rescue-ssl", "matching_heuristics": True}
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        pickle.dump(blob, f)
    return info
