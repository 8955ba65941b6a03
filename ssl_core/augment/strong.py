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

Batched: only the k selected originals are augmented, on the device where they lie, and the work
is a fixed number of batched kernels per step, not a loop over images. Every image's crop, flip,
ops, magnitudes and Cutout are drawn at once from the caller's ``torch.Generator`` (on the CPU, so
a step is reproducible on any device); each op then runs once on the images that drew it, with
their own magnitudes. The ops are ``ssl_core.augment.ops``'s kernels, each checked against torchvision's per-image
kernel op by op (``tests/ssl_core/test_strong_augment.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from ssl_core.augment.ops import GEOMETRIC, affine, affine_theta, apply_op, crop_boxes, cutout, normalize, resized_crops

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


@dataclass
class StrongParams:
    """What is drawn for a batch of k images, one row per image (CPU tensors)."""

    boxes: torch.Tensor  # [k, 4] long: top, left, height, width of the crop
    flips: torch.Tensor  # [k] bool: horizontal flip
    ops: torch.Tensor  # [k, n_ops] long: indices into OP_NAMES, applied left to right
    magnitudes: torch.Tensor  # [k, n_ops] float64: each op's magnitude (Posterize: bits; NaN if none)
    cutouts: torch.Tensor  # [k, 3] long: side, centre row, centre column of the grey square

    def op_lists(self) -> list[list[tuple[str, float | None]]]:
        """Per image, its ops as (name, magnitude or None), for tests and the Fig. 3 grid."""
        return [[(OP_NAMES[o], None if FIXMATCH_OPS[OP_NAMES[o]] is None else m)
                 for o, m in zip(ops, mags)] for ops, mags in zip(self.ops.tolist(), self.magnitudes.tolist())]

    def rows(self, index: torch.Tensor) -> "StrongParams":
        """The draws of the images ``index`` (rows of this draw)."""
        return StrongParams(*(getattr(self, f.name)[index] for f in fields(self)))


def sample_params(k: int, height: int, width: int, generator: torch.Generator, n_ops: int = 2,
                  crop_scale: tuple[float, float] = (0.08, 1.0), cutout_max: float = 0.5,
                  ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> StrongParams:
    """Every random choice of k strong views of [height, width] originals, drawn from ``generator``.

    The crop is torchvision's ``RandomResizedCrop.get_params`` for each image (``crop_boxes``)."""
    def u(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, dtype=torch.float64)

    boxes = crop_boxes(u(k, 10), u(k, 10), u(k), u(k), height, width, crop_scale, ratio)
    flips = u(k) < 0.5
    ops = torch.randint(len(OP_NAMES), (k, n_ops), generator=generator)
    low = torch.tensor([r[0] if r else math.nan for r in FIXMATCH_OPS.values()], dtype=torch.float64)[ops]
    high = torch.tensor([r[1] if r else math.nan for r in FIXMATCH_OPS.values()], dtype=torch.float64)[ops]
    draw = u(k, n_ops)
    magnitudes = torch.where(ops == OP_NAMES.index("Posterize"),
                             torch.floor(low + (high - low + 1) * draw),  # integer bits, uniform on {4..8}
                             low + (high - low) * draw)
    side = torch.floor(u(k) * cutout_max * width).long()
    centre = torch.stack([torch.floor(u(k) * height), torch.floor(u(k) * width)], 1).long()
    return StrongParams(boxes, flips, ops, magnitudes, torch.cat([side[:, None], centre], 1))


def apply_ops(images: torch.Tensor, ops: torch.Tensor, magnitudes: torch.Tensor) -> torch.Tensor:
    """Image i gets op ``ops[i]`` with magnitude ``magnitudes[i]``: each op runs once, on the images
    that drew it; the five geometric ops share one affine resampling (index bookkeeping on CPU)."""
    out = images.clone()
    names = [OP_NAMES[o] for o in ops.tolist()]
    pointwise = sorted(set(names) - {"Identity"} - set(GEOMETRIC))
    groups = {name: [i for i, n in enumerate(names) if n == name] for name in pointwise}
    geometric = [i for i, n in enumerate(names) if n in GEOMETRIC]
    for name, rows in list(groups.items()) + [("geometric", geometric)]:
        if not rows:
            continue
        index = torch.tensor(rows)
        on_device = index.to(images.device, non_blocking=True)
        if name == "geometric":
            theta = affine_theta([names[i] for i in rows], magnitudes[index], *images.shape[-2:])
            out[on_device] = affine(images[on_device], theta)
        else:
            out[on_device] = apply_op(images[on_device], name, magnitudes[index])
    return out


@dataclass
class StrongAugment:
    """``StrongAugment(size)(originals uint8 [k, 3, size, size], generator) -> float [k, 3, size, size]``,
    normalised with the ImageNet statistics like the common views. Each image gets its own crop,
    flip, ops and Cutout. ``return_ops=True`` also returns the ops drawn per image (for tests and
    the Fig. 3 grid)."""

    size: int
    crop_scale: tuple[float, float] = (0.08, 1.0)
    n_ops: int = 2
    cutout_max: float = 0.5
    original_size: int | None = None  # side of the originals (default ``size``; >= size)

    def __post_init__(self) -> None:
        self.original_size = self.original_size or self.size
        if self.original_size < self.size:
            raise ValueError(f"original_size {self.original_size} is smaller than the crop side {self.size}")

    def sample(self, k: int, generator: torch.Generator) -> StrongParams:
        side = self.original_size
        return sample_params(k, side, side, generator, self.n_ops, self.crop_scale, self.cutout_max)

    def apply(self, originals: torch.Tensor, params: StrongParams) -> torch.Tensor:
        """uint8 strong views [k, 3, size, size] of the originals under the drawn ``params``."""
        images = resized_crops(originals, params.boxes, params.flips, self.size)
        for slot in range(params.ops.shape[1]):
            images = apply_ops(images, params.ops[:, slot], params.magnitudes[:, slot])
        return cutout(images, params.cutouts)

    def __call__(self, originals: torch.Tensor, generator: torch.Generator, return_ops: bool = False,
                 slots: torch.Tensor | None = None, of: int | None = None):
        """``slots``/``of``: the originals take rows ``slots`` of a draw for ``of`` images (the rescue
        term's global top-k: every process draws for all k and augments its own share)."""
        if originals.dtype != torch.uint8 or originals.ndim != 4 or originals.shape[1] != 3:
            raise ValueError(f"expected uint8 images [k, 3, H, W], got {originals.dtype} {tuple(originals.shape)}")
        side = self.original_size
        if tuple(originals.shape[-2:]) != (side, side):
            raise ValueError(f"expected originals of {side} x {side} "
                             f"(ssl_core.augment.originals.original_transform), got {tuple(originals.shape[-2:])}")
        params = self.sample(originals.shape[0], generator) if slots is None else \
            self.sample(of, generator).rows(slots.cpu())
        # Pixel arithmetic in full precision even inside a training step's autocast (whose bf16
        # matmuls would put the affine ops' sampling grids half a pixel off at 224 px).
        with torch.autocast(originals.device.type, enabled=False):
            batch = self.apply(originals, params)
        batch = normalize(batch)
        return (batch, params.op_lists()) if return_ops else batch
