"""Backbone registry. Each entry returns a module mapping images [B,3,H,W] -> features [B,D]
and exposes ``feature_dim``."""
from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import resnet
from torchvision.models.resnet import BasicBlock, Bottleneck

from ssl_core.registry import Registry

BACKBONES: Registry[nn.Module] = Registry("backbone")


def _headless(model: resnet.ResNet) -> nn.Module:
    model.feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model


@BACKBONES.register("resnet50")
def resnet50() -> nn.Module:
    """torchvision ResNet-50 without its classifier (2048-d pooled features), as in SimCLR/MoCo v3."""
    return _headless(resnet.resnet50(weights=None))


@BACKBONES.register("resnet18")
def resnet18() -> nn.Module:
    return _headless(resnet.resnet18(weights=None))


def _cifar_stem(model: resnet.ResNet) -> resnet.ResNet:
    """The stem of the SSL libraries for 32 px images (solo-learn ``methods/base.py``: a 3x3
    stride-1 conv1 and no max-pool when the dataset is CIFAR; lightly's CIFAR-10 benchmark does the
    same): the 4x downsampling of the ImageNet stem would leave 1x1 maps in the last stage."""
    model.conv1 = nn.Conv2d(3, model.conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


@BACKBONES.register("resnet18_cifar")
def resnet18_cifar() -> nn.Module:
    """ResNet-18 (11.2 M parameters, 512-d features) with the CIFAR stem. The ViT of the cifar
    profile is ``vit_small`` with ``img_size: 32, patch_size: 4`` (ViT-S/4: 64 patches)."""
    return _headless(_cifar_stem(resnet.resnet18(weights=None)))


@BACKBONES.register("resnet_tiny")
def resnet_tiny(width: int = 16) -> nn.Module:
    """A 4-stage ResNet with one BasicBlock per stage (widths w..8w) and the CIFAR stem
    (3x3 conv, no max-pool) used by the SSL libraries for small images; ~0.3 M parameters at w=16."""
    model = resnet.ResNet(BasicBlock, [1, 1, 1, 1], width_per_group=64)
    # Rebuild at the requested width: torchvision fixes 64..512, so re-create the stages.
    model.inplanes = width
    model.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.maxpool = nn.Identity()
    model.layer1 = model._make_layer(BasicBlock, width, 1)
    model.layer2 = model._make_layer(BasicBlock, 2 * width, 1, stride=2)
    model.layer3 = model._make_layer(BasicBlock, 4 * width, 1, stride=2)
    model.layer4 = model._make_layer(BasicBlock, 8 * width, 1, stride=2)
    model.fc = nn.Linear(8 * width, 1)
    for m in model.modules():  # torchvision's init, re-applied to the rebuilt stages
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return _headless(model)


def _register_vit(size: str) -> None:
    def build(**kwargs) -> nn.Module:
        from ssl_core.vit import build_vit  # timm is imported only when a ViT is built

        return build_vit(size, **kwargs)

    BACKBONES.register(size)(build)


for _size in ("vit_tiny_test", "vit_s_tiny", "vit_b_tiny", "vit_small", "vit_base", "vit_large", "vit_huge"):
    _register_vit(_size)


def zero_init_residual_blocks(backbone: nn.Module) -> None:
    """Zero the gamma of the last BN of every residual block, so each block starts as the identity
    (torchvision ``ResNet(zero_init_residual=True)``; google-research/simclr ``resnet.py``
    ``init_zero=True``; moco-v3 ``main_moco.py`` L186). The shortcut's BN keeps gamma 1."""
    for m in backbone.modules():
        if isinstance(m, Bottleneck) and m.bn3.weight is not None:
            nn.init.zeros_(m.bn3.weight)
        elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
            nn.init.zeros_(m.bn2.weight)


def build_backbone(name: str, **kwargs) -> nn.Module:
    """``kwargs`` are the recipe's backbone options (e.g. MoCo v3's frozen patch projection)."""
    return BACKBONES.build(name, **kwargs)


def is_vit(backbone: nn.Module) -> bool:
    """A ViT of the registry (timm's, with a patch projection), as opposed to a ResNet."""
    return hasattr(backbone, "patch_embed")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_backbone(path: str | Path) -> nn.Module:
    """Rebuild a pretrained backbone from ``backbone.pt`` (safe deserialisation)."""
    from ssl_core.io import load_torch

    state = load_torch(path)
    backbone = build_backbone(state["arch"], **state.get("kwargs", {}))
    backbone.load_state_dict(state["state_dict"])
    return backbone
