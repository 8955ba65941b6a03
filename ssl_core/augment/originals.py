"""The un-augmented image: the resized original the rescue term keeps (and the device path makes
the common views from), and the evaluations' centre crop."""
from __future__ import annotations

from typing import Callable

import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD


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
