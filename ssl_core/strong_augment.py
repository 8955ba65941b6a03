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
their own magnitudes. Each op computes exactly what torchvision's per-image tensor kernel
(``torchvision.transforms.v2.functional``) computes for that image and magnitude, which
``tests/ssl_core/test_strong_augment.py`` checks op by op.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
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
GEOMETRIC = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY")  # one affine resampling each


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


def crop_boxes(u_area: torch.Tensor, u_aspect: torch.Tensor, u_top: torch.Tensor, u_left: torch.Tensor,
               height: int, width: int, scale: tuple[float, float] = (0.08, 1.0),
               ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """torchvision's ``RandomResizedCrop.get_params`` for each of k images, vectorised, from uniform
    draws in [0, 1) (float64): ``u_area``, ``u_aspect`` [k, 10] (10 tries at a random area and
    log-uniform aspect ratio, the first that fits wins, else the central crop), ``u_top``, ``u_left``
    [k] (the position). Returns [k, 4] long: top, left, height, width."""
    area = height * width
    target = area * (scale[0] + (scale[1] - scale[0]) * u_area)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u_aspect)
    cw = torch.round(torch.sqrt(target * aspect)).long()
    ch = torch.round(torch.sqrt(target / aspect)).long()
    fits = (cw > 0) & (cw <= width) & (ch > 0) & (ch <= height)
    first = fits.long().argmax(1, keepdim=True)  # the first try that fits
    cw, ch = cw.gather(1, first).squeeze(1), ch.gather(1, first).squeeze(1)
    top = torch.floor(u_top * (height - ch + 1)).long()
    left = torch.floor(u_left * (width - cw + 1)).long()
    none_fit = ~fits.any(1)
    if none_fit.any():  # torchvision's fallback: the central crop at the closest allowed aspect ratio
        in_ratio = width / height
        if in_ratio < ratio[0]:
            fw, fh = width, int(round(width / ratio[0]))
        elif in_ratio > ratio[1]:
            fw, fh = int(round(height * ratio[1])), height
        else:
            fw, fh = width, height
        cw[none_fit], ch[none_fit] = fw, fh
        top[none_fit], left[none_fit] = (height - fh) // 2, (width - fw) // 2
    return torch.stack([top, left, ch, cw], 1)


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


def resized_crops(images: torch.Tensor, boxes: torch.Tensor, flips: torch.Tensor, size: int) -> torch.Tensor:
    """Each image's box, resized to ``size`` x ``size`` (bilinear) and flipped where drawn, in one
    ``grid_sample``: per image what ``TF.resized_crop`` then ``TF.horizontal_flip`` give (source
    coordinates as ``F.interpolate(align_corners=False)``, clamped to the box). No antialiasing: a
    box is enlarged, or shrunk by at most original_size / size (256 / 224 in the paper profile)."""
    n, _, h, w = images.shape
    device = images.device
    top, left, ch, cw = (c[:, None] for c in boxes.to(device, torch.float32).unbind(1))
    centres = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    xs = left + (centres * cw / size - 0.5).clamp(min=0).minimum(cw - 1)
    ys = top + (centres * ch / size - 0.5).clamp(min=0).minimum(ch - 1)
    xs = torch.where(flips.to(device)[:, None], xs.flip(1), xs)
    grid = torch.stack([((2 * xs + 1) / w - 1)[:, None, :].expand(n, size, size),
                        ((2 * ys + 1) / h - 1)[:, :, None].expand(n, size, size)], dim=-1)
    out = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float, scaled to [0, 1] and normalised with the ImageNet statistics."""
    return TF.normalize(images.float().div_(255), IMAGENET_MEAN, IMAGENET_STD)


def _per_image(v: torch.Tensor, device: torch.device) -> torch.Tensor:
    return v.to(device=device, dtype=torch.float32).view(-1, 1, 1, 1)


def _blend(images: torch.Tensor, degenerate: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_blend`` with one factor per image: factor x image + (1 - factor) x degenerate."""
    return images.mul(factor).add_(degenerate * (1 - factor)).clamp_(0, 255).to(torch.uint8)


def _grey(images: torch.Tensor) -> torch.Tensor:
    """torchvision's luma (ITU-R 601-2), floored as its uint8 kernels do: float [n, 1, H, W]."""
    r, g, b = images.unbind(1)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).floor_().unsqueeze(1)


def _sharpness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``adjust_sharpness_image`` with one factor per image: the interior blends with a 3 x 3 smoothed
    copy (1s around a 5, /13, rounded); the border rows and columns are kept. The 3 x 3 sum is
    separable (a row then a column of three), cheaper than torchvision's depthwise convolution."""
    if images.shape[-1] <= 2 or images.shape[-2] <= 2:
        return images
    out = images.float()
    rows = out[..., :, :-2] + out[..., :, 1:-1] + out[..., :, 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    view = out[..., 1:-1, 1:-1]
    blurred = box.mul_(1.0 / 13.0).add_(view, alpha=4.0 / 13.0).round_()  # 1/13 x 9-sum + (5-1)/13 x centre
    view.add_(blurred.sub_(view).mul_(1 - factor))
    return out.clamp_(0, 255).to(torch.uint8)


def _affine_theta(names: list[str], v: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torchvision's inverse affine matrix (``_get_inverse_affine_matrix``, centre [0, 0], scale 1)
    of each image's geometric op: Rotate v (torchvision rotates by -angle), ShearX/Y by atan(v)
    (PIL's shear coefficient as an angle), TranslateX/Y by round(v x side) pixels. [n, 2, 3]."""
    zero = torch.zeros_like(v)
    is_ = {name: torch.tensor([n == name for n in names]) for name in GEOMETRIC}
    rot = torch.where(is_["Rotate"], torch.deg2rad(-v), zero)
    sx = torch.where(is_["ShearX"], torch.atan(v), zero)
    sy = torch.where(is_["ShearY"], torch.atan(v), zero)
    tx = torch.where(is_["TranslateX"], torch.round(v * width), zero)
    ty = torch.where(is_["TranslateY"], torch.round(v * height), zero)
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -(a * torch.tan(sx) + torch.sin(rot))
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = torch.cos(rot) - c * torch.tan(sx)
    m0, m1, m3, m4 = d, -b, -c, a
    return torch.stack([m0, m1, -m0 * tx - m1 * ty, m3, m4, -m3 * tx - m4 * ty], 1).view(-1, 2, 3)


def _affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_affine_grid`` + ``_apply_grid_transform`` (nearest, grey fill) with one
    matrix per image."""
    n, c, h, w = images.shape
    device = images.device
    theta = theta.to(device=device, dtype=torch.float32)
    base = torch.empty(1, h, w, 3, device=device)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=device))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, device=device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div_(torch.tensor([0.5 * w, 0.5 * h], device=device))
    grid = base.view(1, h * w, 3).expand(n, -1, -1).bmm(scaled).view(n, h, w, 2)
    x = torch.cat([images.float(), torch.ones(n, 1, h, w, device=device)], 1)
    x = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    x, inside = x[:, :c], x[:, c:]
    x = torch.where(inside < 0.5, torch.full_like(x, float(GREY)), x)
    return x.round_().to(torch.uint8)


def apply_op(images: torch.Tensor, name: str, v: torch.Tensor) -> torch.Tensor:
    """One op on uint8 images [n, 3, H, W], image i with magnitude ``v[i]`` (a CPU tensor)."""
    device = images.device
    if name == "Identity":
        return images
    if name == "AutoContrast":
        return TF.autocontrast(images)
    if name == "Equalize":
        return TF.equalize(images)
    if name == "Brightness":
        return images.mul(_per_image(v, device)).clamp_(0, 255).to(torch.uint8)
    if name == "Color":
        return _blend(images, _grey(images), _per_image(v, device))
    if name == "Contrast":
        return _blend(images, _grey(images).mean(dim=(-3, -2, -1), keepdim=True), _per_image(v, device))
    if name == "Sharpness":
        return _sharpness(images, _per_image(v, device))
    if name == "Posterize":
        bits = v.long()
        mask = (((1 << bits) - 1) << (8 - bits)).to(device=device, dtype=torch.uint8).view(-1, 1, 1, 1)
        return images & mask
    if name == "Solarize":  # PIL inverts pixels >= 256 v; v = 1 inverts none
        threshold = _per_image(256.0 * v, device)
        return torch.where(images >= threshold, 255 - images, images)
    if name in GEOMETRIC:
        return _affine(images, _affine_theta([name] * len(v), v, *images.shape[-2:]))
    raise KeyError(f"unknown op {name!r}; expected one of {OP_NAMES}")


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
            theta = _affine_theta([names[i] for i in rows], magnitudes[index], *images.shape[-2:])
            out[on_device] = _affine(images[on_device], theta)
        else:
            out[on_device] = apply_op(images[on_device], name, magnitudes[index])
    return out


def cutout(images: torch.Tensor, cutouts: torch.Tensor) -> torch.Tensor:
    """A grey square of side ``cutouts[i, 0]`` centred at (``cutouts[i, 1]``, ``cutouts[i, 2]``) on
    image i, clipped at the border (none where the side is 0)."""
    n, _, h, w = images.shape
    side, cy, cx = (c[:, None] for c in cutouts.to(images.device).unbind(1))
    y0, x0 = cy - side // 2, cx - side // 2
    rows = torch.arange(h, device=images.device)[None]
    cols = torch.arange(w, device=images.device)[None]
    inside = (((rows >= y0) & (rows < y0 + side))[:, :, None] & ((cols >= x0) & (cols < x0 + side))[:, None, :])
    return images.masked_fill(inside[:, None], GREY)


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
                             f"(ssl_core.augment.original_transform), got {tuple(originals.shape[-2:])}")
        params = self.sample(originals.shape[0], generator) if slots is None else \
            self.sample(of, generator).rows(slots.cpu())
        # Pixel arithmetic in full precision even inside a training step's autocast (whose bf16
        # matmuls would put the affine ops' sampling grids half a pixel off at 224 px).
        with torch.autocast(originals.device.type, enabled=False):
            batch = self.apply(originals, params)
        batch = normalize(batch)
        return (batch, params.op_lists()) if return_ops else batch
