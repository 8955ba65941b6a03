"""The rescue term's strong views: random resized crop + flip, FixMatch RandAugment, Cutout.

RandAugment with the FixMatch pool (Sohn et al. 2020, Table 12; google-research/fixmatch
``libml/augment.py`` "RandAugment" with ``ctaugment`` ops): for each image draw ``n_ops`` = 2 ops
uniformly from the 14 below, each with a magnitude drawn uniformly from its range, then Cutout with a
square of side ``L * width``, L ~ U[0, 0.5], filled with grey.

======================  ===============  ==============================================
op                      magnitude range  meaning
======================  ===============  ==============================================
AutoContrast, Equalize,  --              parameter-free
Identity
Brightness, Color,      [0.05, 0.95]     PIL ``ImageEnhance`` factor (0 = black / grey /
Contrast, Sharpness                      flat / blurred, 1 = the original)
Posterize               {4, ..., 8}      bits kept per channel
Rotate                  [-30, 30]        degrees
ShearX, ShearY          [-0.3, 0.3]      shear coefficient (PIL affine)
Solarize                [0, 1]           threshold as a fraction of 256: pixels >= it invert
TranslateX, TranslateY  [-0.3, 0.3]      fraction of the image side
======================  ===============  ==============================================

Everything is drawn from the caller's ``torch.Generator`` so a step is reproducible, and every op
runs on the uint8 tensor where it lies (CPU or GPU): only the k selected originals are augmented.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GREY = 128  # FixMatch fills geometric ops and Cutout with (128, 128, 128)

# name -> (low, high) of its uniform magnitude, or None for parameter-free ops.
FIXMATCH_OPS: dict[str, tuple[float, float] | None] = {
    "AutoContrast": None,
    "Brightness": (0.05, 0.95),
    "Color": (0.05, 0.95),
    "Contrast": (0.05, 0.95),
    "Equalize": None,
    "Identity": None,
    "Posterize": (4, 8),
    "Rotate": (-30.0, 30.0),
    "Sharpness": (0.05, 0.95),
    "ShearX": (-0.3, 0.3),
    "ShearY": (-0.3, 0.3),
    "Solarize": (0.0, 1.0),
    "TranslateX": (-0.3, 0.3),
    "TranslateY": (-0.3, 0.3),
}
OP_NAMES = tuple(FIXMATCH_OPS)


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def sample_ops(n_ops: int, generator: torch.Generator) -> list[tuple[str, float | None]]:
    """``n_ops`` ops drawn uniformly with replacement, each with its magnitude (as FixMatch)."""
    picks = torch.randint(len(OP_NAMES), (n_ops,), generator=generator).tolist()
    ops = []
    for i in picks:
        name = OP_NAMES[i]
        rng = FIXMATCH_OPS[name]
        if rng is None:
            ops.append((name, None))
        elif name == "Posterize":
            ops.append((name, float(torch.randint(int(rng[0]), int(rng[1]) + 1, (), generator=generator))))
        else:
            ops.append((name, _uniform(*rng, generator)))
    return ops


def apply_op(img: torch.Tensor, name: str, v: float | None) -> torch.Tensor:
    """One op on a uint8 image [3, H, W]."""
    fill = [float(GREY)] * 3
    if name == "Identity":
        return img
    if name == "AutoContrast":
        return TF.autocontrast(img)
    if name == "Equalize":
        return TF.equalize(img)
    if name == "Brightness":
        return TF.adjust_brightness(img, v)
    if name == "Color":
        return TF.adjust_saturation(img, v)
    if name == "Contrast":
        return TF.adjust_contrast(img, v)
    if name == "Sharpness":
        return TF.adjust_sharpness(img, v)
    if name == "Posterize":
        return TF.posterize(img, int(v))
    if name == "Solarize":
        threshold = 256.0 * v  # PIL inverts pixels >= threshold; 256 inverts none
        return img if threshold > 255 else TF.solarize(img, threshold=threshold)
    if name == "Rotate":
        return TF.rotate(img, v, fill=fill)
    if name in ("ShearX", "ShearY"):
        # PIL's affine shear coefficient v is a shear angle of atan(v); torchvision takes degrees.
        deg = math.degrees(math.atan(v))
        shear = [deg, 0.0] if name == "ShearX" else [0.0, deg]
        return TF.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear, fill=fill)
    if name in ("TranslateX", "TranslateY"):
        pixels = round(v * img.shape[-1 if name == "TranslateX" else -2])
        shift = [pixels, 0] if name == "TranslateX" else [0, pixels]
        return TF.affine(img, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0], fill=fill)
    raise KeyError(f"unknown op {name!r}; expected one of {OP_NAMES}")


def cutout(img: torch.Tensor, max_frac: float, generator: torch.Generator) -> torch.Tensor:
    """Grey square of side ``L * width`` (L ~ U[0, max_frac]) centred at a uniform pixel, clipped."""
    h, w = img.shape[-2:]
    side = int(_uniform(0.0, max_frac, generator) * w)
    if side == 0:
        return img
    cy = int(torch.randint(h, (), generator=generator))
    cx = int(torch.randint(w, (), generator=generator))
    y0, y1 = max(0, cy - side // 2), min(h, cy - side // 2 + side)
    x0, x1 = max(0, cx - side // 2), min(w, cx - side // 2 + side)
    out = img.clone()
    out[..., y0:y1, x0:x1] = GREY
    return out


def crop_params(h: int, w: int, scale: tuple[float, float], generator: torch.Generator,
                ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop.get_params, drawing from ``generator``."""
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * _uniform(*scale, generator)
        aspect = math.exp(_uniform(*log_ratio, generator))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(h - ch + 1, (), generator=generator))
            left = int(torch.randint(w - cw + 1, (), generator=generator))
            return top, left, ch, cw
    in_ratio = w / h  # fallback: central crop at the closest allowed aspect ratio
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


@dataclass
class StrongAugment:
    """``StrongAugment(size)(originals uint8 [k, 3, H, W], generator) -> float [k, 3, size, size]``,
    normalised with the ImageNet statistics like the common views. Each image gets its own crop,
    flip, ops and Cutout. ``return_ops=True`` also returns the ops drawn per image (for tests and
    the Fig. 3 grid)."""

    size: int
    crop_scale: tuple[float, float] = (0.08, 1.0)
    n_ops: int = 2
    cutout_max: float = 0.5

    def augment_one(self, img: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, list]:
        top, left, ch, cw = crop_params(img.shape[-2], img.shape[-1], self.crop_scale, generator)
        img = TF.resized_crop(img, top, left, ch, cw, [self.size, self.size], antialias=True)
        if torch.rand((), generator=generator).item() < 0.5:
            img = TF.horizontal_flip(img)
        ops = sample_ops(self.n_ops, generator)
        for name, v in ops:
            img = apply_op(img, name, v)
        return cutout(img, self.cutout_max, generator), ops

    def __call__(self, originals: torch.Tensor, generator: torch.Generator, return_ops: bool = False):
        if originals.dtype != torch.uint8 or originals.ndim != 4 or originals.shape[1] != 3:
            raise ValueError(f"expected uint8 images [k, 3, H, W], got {originals.dtype} {tuple(originals.shape)}")
        outs, all_ops = [], []
        for img in originals:
            out, ops = self.augment_one(img, generator)
            outs.append(out)
            all_ops.append(ops)
        batch = torch.stack(outs) if outs else originals.new_zeros(0, 3, self.size, self.size)
        batch = TF.normalize(batch.float().div_(255), IMAGENET_MEAN, IMAGENET_STD)
        return (batch, all_ops) if return_ops else batch
