"""The batched image kernels on uint8 images [n, 3, H, W] that the common views, the strong views
and the evaluation share, with the ImageNet normalisation every view ends in.

Each kernel takes one parameter per image (a CPU tensor) and computes exactly what torchvision's
per-image tensor kernel (``torchvision.transforms.v2.functional``) computes for that image and
parameter (``tests/ssl_core/test_strong_augment.py``, ``tests/ssl_core/test_views.py``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GREY = 128  # FixMatch fills geometric ops and Cutout with (128, 128, 128)
POINTWISE = ("AutoContrast", "Brightness", "Color", "Contrast", "Equalize", "Identity", "Posterize", "Sharpness",
             "Solarize")
GEOMETRIC = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY")  # one affine resampling each


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


def grey(images: torch.Tensor) -> torch.Tensor:
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


def affine_theta(names: list[str], v: torch.Tensor, height: int, width: int) -> torch.Tensor:
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


def affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
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
        return _blend(images, grey(images), _per_image(v, device))
    if name == "Contrast":
        return _blend(images, grey(images).mean(dim=(-3, -2, -1), keepdim=True), _per_image(v, device))
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
        return affine(images, affine_theta([name] * len(v), v, *images.shape[-2:]))
    raise KeyError(f"unknown op {name!r}; expected one of {POINTWISE + GEOMETRIC}")


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
