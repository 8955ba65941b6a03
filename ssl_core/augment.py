"""The common (weak) two-view augmentation of SimCLR and the resized original kept for rescue.

The strong views of the rescue term live in ``ssl_core.strong_augment``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ssl_core.strong_augment import IMAGENET_MEAN, IMAGENET_STD
from ssl_core.views import ViewSpec, loader_view, tenth_kernel


@dataclass(frozen=True)
class CommonViewConfig:
    """SimCLR's augmentation (Chen et al. 2020, App. A; google-research/simclr ``data_util.py``):
    random resized crop (scale 0.08-1) + flip, colour distortion of strength 1.0 (jitter 0.8/0.8/0.8/0.2
    applied with p=0.8, greyscale p=0.2), Gaussian blur p=0.5 with sigma in [0.1, 2] and a kernel of
    10 % of the image side (ImageNet only: SimCLR drops blur on CIFAR, so small profiles set p=0)."""

    size: int = 224
    min_scale: float = 0.08
    color_strength: float = 1.0
    blur_prob: float = 0.5

    def spec(self) -> ViewSpec:
        s = self.color_strength
        return ViewSpec(self.size, (self.min_scale, 1.0), jitter=(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s),
                        blur_prob=self.blur_prob, blur_kernel=tenth_kernel(self.size))


def common_view_transform(cfg: CommonViewConfig) -> v2.Compose:
    """One SimCLR view in the loader: PIL image -> normalised float tensor."""
    return loader_view(cfg.spec())


def original_size(recipe: dict) -> int:
    """Side of the originals the strong views are cropped from: recipe ``original_size``, default
    the crop side ``image_size``. The paper profile keeps 256 for 224 crops, so a strong view's
    RandomResizedCrop samples the image, not the 224 centre crop of it (docs/protocols.md)."""
    return recipe.get("original_size", recipe["image_size"])


def original_transform(size: int) -> Callable[[Image.Image], torch.Tensor]:
    """The un-augmented original the rescue term strongly augments (and the device path makes the
    common views from): short side resized to ``size``, centre crop, kept as uint8 so a batch of
    originals is cheap to carry. torchvision's functional kernels: what ``v2.Compose([ToImage(),
    Resize(size), CenterCrop(size)])`` gives, without its per-call overhead (~60 us of a 32 px item)."""
    return lambda img: TF.center_crop(TF.resize(TF.pil_to_tensor(img), [size], antialias=True), [size])


def eval_transform(size: int, resize: int | None = None) -> v2.Compose:
    """Evaluation preprocessing: resize the short side (bicubic), centre crop, normalise."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(resize or size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
