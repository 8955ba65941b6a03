"""The methods' common views, made in the loader (per image, PIL) or on the training device (batched).

A method describes each of its views by a ``ViewSpec`` (random resized crop + flip, colour jitter in
a random order per image, greyscale, Gaussian blur, solarisation, ImageNet normalisation: the
pipeline SimCLR, MoCo v3/BYOL and DINOv2 share, with their own strengths and probabilities).
``Views(specs, on)`` makes them where the config says (``data.pretrain.augment_on``):

- ``loader``: torchvision's per-image transforms on the PIL image in the loader workers (PIL's
  resize and enhancers), the views collated as float tensors;
- ``device``: the loader yields only the uint8 original (which the rescue term keeps anyway) and
  one row of uniform draws per view; the training process turns the draws into each image's crop,
  flip, jitter order and factors, greyscale, blur and solarisation, and applies them to the whole
  batch with one kernel per op (the images that drew an op, with their own parameters), as
  ``ssl_core.augment.strong`` does for the rescue term's strong views (the kernels:
  ``ssl_core.augment.ops``). Each op computes what
  torchvision's per-image tensor kernel computes for that image and parameter
  (``tests/ssl_core/test_views.py``).

Both paths draw each item's randomness from torch's generator seeded per (seed, epoch, index)
(``MultiViewDataset``), so a run sees the same views with any number of loader workers or
processes, after a resume, and in its baseline and rescued variants. The device path crops from the
original at the crop side and resamples bilinearly (exact for the boxes it enlarges, i.e. all boxes
of views at the original's side; DINOv2's bicubic resampling and the antialiasing of the few local
crops larger than their side are the loader path's only); for originals much larger than the crop
(ImageNet) crops from the full image in the loader keep more detail: the paper profile uses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD, apply_op, crop_boxes, grey, normalize, resized_crops

BLUR_SIGMA = (0.1, 2.0)  # every method's Gaussian blur: sigma ~ U[0.1, 2]
SOLARIZE_THRESHOLD = 128  # torchvision's RandomSolarize(threshold=128) = PIL ImageOps.solarize

# Columns of one view's uniform draws (``Views.item`` on the device path).
AREA, ASPECT = slice(0, 10), slice(10, 20)  # RandomResizedCrop's 10 tries
TOP, LEFT, FLIP, JITTER = 20, 21, 22, 23
FACTORS = slice(24, 28)  # brightness, contrast, saturation, hue
ORDER = slice(28, 32)  # argsort of 4 uniforms: a uniform random order of the 4 jitter ops
GREY, BLUR, SIGMA, SOLARIZE = 32, 33, 34, 35
N_UNIFORMS = 36


@dataclass(frozen=True)
class ViewSpec:
    """One view: ``RandomResizedCrop(size, scale)`` + flip, ``ColorJitter(*jitter)`` with
    ``jitter_prob`` (torchvision's random order per image), greyscale with ``grey_prob``, Gaussian
    blur (sigma ~ U[0.1, 2]) with ``blur_prob``, solarisation at 128 with ``solarize_prob``.
    ``blur_kernel``: the blur's kernel side; None = PIL's untruncated Gaussian in the loader
    (moco-v3's ``GaussianBlur``) and on the device a kernel of ~10 % of the side (BYOL's 23 px at
    224). ``interpolation`` of the loader path's resize (the device path's is bilinear)."""

    size: int
    scale: tuple[float, float]
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_prob: float = 0.8
    grey_prob: float = 0.2
    blur_prob: float = 0.0
    blur_kernel: int | None = None
    solarize_prob: float = 0.0
    interpolation: str = "bilinear"

    def kernel(self) -> int:
        """The device blur's kernel side: ``blur_kernel``, else ``tenth_kernel(size)``."""
        return self.blur_kernel or tenth_kernel(self.size)


def tenth_kernel(size: int) -> int:
    """An odd blur kernel of ~10 % of the image side (SimCLR's; BYOL's 23 px at 224)."""
    return max(3, int(0.1 * size) // 2 * 2 + 1)


class PILGaussianBlur:
    """moco/loader.py ``GaussianBlur``: PIL's Gaussian filter with sigma ~ U(0.1, 2) (PIL's radius is
    the standard deviation; no kernel-size truncation as torchvision's). sigma is drawn from torch's
    RNG, which the data pipeline seeds per item, rather than Python's ``random``."""

    def __init__(self, sigma: tuple[float, float] = BLUR_SIGMA) -> None:
        self.sigma = sigma

    def __call__(self, img: Any) -> Any:
        sigma = float(torch.empty(1).uniform_(self.sigma[0], self.sigma[1]))
        if isinstance(img, Image.Image):
            return img.filter(ImageFilter.GaussianBlur(radius=sigma))
        # tensor / tv_tensors image (uint8 [C, H, W]): round-trip through PIL
        return TF.pil_to_tensor(TF.to_pil_image(img).filter(ImageFilter.GaussianBlur(radius=sigma)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigma={self.sigma})"


def loader_view(spec: ViewSpec) -> v2.Compose:
    """The view as torchvision's per-image transforms: PIL image -> normalised float [3, size, size].
    Crop, flip and colour run on the PIL image (PIL's resize and enhancers are faster than the
    tensor kernels: benchmarks/data_pipeline.py); torchvision's blur converts internally."""
    blur = v2.GaussianBlur(spec.blur_kernel, sigma=BLUR_SIGMA) if spec.blur_kernel else PILGaussianBlur()
    return v2.Compose([
        v2.RandomResizedCrop(spec.size, scale=tuple(spec.scale), antialias=True,
                             interpolation=v2.InterpolationMode(spec.interpolation)),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(*spec.jitter)], p=spec.jitter_prob),
        v2.RandomGrayscale(p=spec.grey_prob),
        v2.RandomApply([blur], p=spec.blur_prob),
        v2.RandomSolarize(threshold=SOLARIZE_THRESHOLD, p=spec.solarize_prob),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def loader_views(specs: list[ViewSpec]) -> Callable[[Image.Image], list[torch.Tensor]]:
    """PIL image -> the list of its views, in the loader (one transform per distinct spec)."""
    transforms = {spec: loader_view(spec) for spec in specs}
    return lambda img: [transforms[spec](img) for spec in specs]


@dataclass
class ViewParams:
    """Every random choice of m views of one spec, one row per view (CPU tensors)."""

    boxes: torch.Tensor  # [m, 4] long: top, left, height, width of the crop in the original
    flips: torch.Tensor  # [m] bool
    jittered: torch.Tensor  # [m] bool: colour jitter applied
    factors: torch.Tensor  # [m, 4] float64: brightness, contrast, saturation, hue factors
    order: torch.Tensor  # [m, 4] long: the jitter ops (0-3 as above) in the order applied
    grey: torch.Tensor  # [m] bool
    sigma: torch.Tensor  # [m] float64: blur sigma, 0 where not blurred
    solarized: torch.Tensor  # [m] bool


def jitter_ranges(jitter: tuple[float, float, float, float]) -> list[tuple[float, float] | None]:
    """``ColorJitter``'s factor ranges: [max(0, 1 - v), 1 + v] for brightness, contrast and
    saturation, [-v, v] for hue; None (the op is skipped) where v = 0."""
    return [None if v == 0 else ((-v, v) if i == 3 else (max(0.0, 1 - v), 1 + v)) for i, v in enumerate(jitter)]


def view_params(u: torch.Tensor, spec: ViewSpec, height: int, width: int) -> ViewParams:
    """The parameters of m views of ``spec`` of [height, width] originals from their uniform draws
    ``u`` [m, N_UNIFORMS] (float64 in [0, 1)), with torchvision's distributions."""
    boxes = crop_boxes(u[:, AREA], u[:, ASPECT], u[:, TOP], u[:, LEFT], height, width, tuple(spec.scale))
    lo = torch.tensor([r[0] if r else 0.0 for r in jitter_ranges(spec.jitter)], dtype=torch.float64)
    hi = torch.tensor([r[1] if r else 0.0 for r in jitter_ranges(spec.jitter)], dtype=torch.float64)
    blurred = u[:, BLUR] < spec.blur_prob
    sigma = BLUR_SIGMA[0] + (BLUR_SIGMA[1] - BLUR_SIGMA[0]) * u[:, SIGMA]
    return ViewParams(boxes=boxes, flips=u[:, FLIP] < 0.5, jittered=u[:, JITTER] < spec.jitter_prob,
                      factors=lo + (hi - lo) * u[:, FACTORS], order=u[:, ORDER].argsort(1),
                      grey=u[:, GREY] < spec.grey_prob, sigma=torch.where(blurred, sigma, 0.0),
                      solarized=u[:, SOLARIZE] < spec.solarize_prob)


def adjust_hue(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's ``adjust_hue_image`` with one factor per image (a CPU tensor)."""
    h, s, v = _rgb_to_hsv(TF.to_dtype(images, torch.float32, scale=True)).unbind(-3)
    h = h.add(factor.to(images.device, torch.float32).view(-1, 1, 1)).remainder_(1.0)
    return TF.to_dtype(_hsv_to_rgb(torch.stack((h, s, v), -3)), torch.uint8, scale=True)


def adjust_jitter(images: torch.Tensor, op: int, factor: torch.Tensor) -> torch.Tensor:
    """Jitter op ``op`` (0 brightness, 1 contrast, 2 saturation, 3 hue, ``ColorJitter``'s
    numbering) with one factor per image: the first three are the strong views' kernels."""
    if op == 3:
        return adjust_hue(images, factor)
    return apply_op(images, ("Brightness", "Contrast", "Color")[op], factor)


def gaussian_blur(images: torch.Tensor, kernel: int, sigma: torch.Tensor) -> torch.Tensor:
    """torchvision's ``gaussian_blur_image`` (its kernel: softmax of -(x / sigma)^2 over
    ``kernel`` points in +-(kernel - 1) / (2 sqrt 2); reflect padding; rounded) with one sigma per
    image (a CPU tensor), as a row then a column convolution (the 2-D kernel is their product)."""
    n, c, h, w = images.shape
    lim = (kernel - 1) / (2.0 * 2.0 ** 0.5)
    x = torch.linspace(-lim, lim, kernel, device=images.device)
    weights = torch.softmax(-(x / sigma.to(images.device, torch.float32)[:, None]) ** 2, dim=1)  # [n, kernel]
    weights = weights.repeat_interleave(c, 0)[:, None]  # one filter per image and channel
    pad = kernel // 2
    out = F.pad(images.float().view(1, n * c, h, w), [pad, pad, pad, pad], mode="reflect")
    out = F.conv2d(out, weights[:, :, None, :], groups=n * c)
    out = F.conv2d(out, weights[:, :, :, None], groups=n * c)
    return out.view(n, c, h, w).round_().clamp_(0, 255).to(torch.uint8)


def _rows(mask: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    index = mask.nonzero().squeeze(1)
    return (index, index.to(device, non_blocking=True)) if len(index) else None


def photometric(images: torch.Tensor, params: ViewParams, spec: ViewSpec) -> torch.Tensor:
    """Jitter (each image's 4 ops in its own order), greyscale, blur and solarisation of uint8
    crops [m, 3, s, s]: each op runs once per position on the images that drew it."""
    out = images.clone()
    device = images.device
    active = [r is not None for r in jitter_ranges(spec.jitter)]
    for slot in range(4):
        for op in range(4):
            rows = _rows(params.jittered & (params.order[:, slot] == op), device) if active[op] else None
            if rows:
                out[rows[1]] = adjust_jitter(out[rows[1]], op, params.factors[rows[0], op])
    if rows := _rows(params.grey, device):
        out[rows[1]] = grey(out[rows[1]]).to(torch.uint8).expand(-1, 3, -1, -1)
    if rows := _rows(params.sigma > 0, device):
        out[rows[1]] = gaussian_blur(out[rows[1]], spec.kernel(), params.sigma[rows[0]])
    if rows := _rows(params.solarized, device):
        out[rows[1]] = torch.where(out[rows[1]] >= SOLARIZE_THRESHOLD, 255 - out[rows[1]], out[rows[1]])
    return out


def device_views(originals: torch.Tensor, u: torch.Tensor, spec: ViewSpec) -> torch.Tensor:
    """Views of ``spec`` of uint8 originals [m, 3, H, W] (on the device) under their draws ``u``
    [m, N_UNIFORMS]: normalised float [m, 3, size, size]."""
    params = view_params(u, spec, *originals.shape[-2:])
    crops = resized_crops(originals, params.boxes, params.flips, spec.size)
    return normalize(photometric(crops, params, spec))


class Views:
    """A method's common views made ``on`` the loader or the device.

    ``item(img)`` runs in the loader per image (the dataset's view transform): the float views
    (loader) or the uniform draws [n_views, N_UNIFORMS] (device). ``__call__(batch, originals,
    device)`` runs in the training process on the collated batch and returns the float views on
    ``device``, in full precision whatever autocast is active."""

    def __init__(self, specs: list[ViewSpec], on: str = "device") -> None:
        if on not in ("device", "loader"):
            raise ValueError(f"augment_on must be 'device' or 'loader', not {on!r}")
        self.specs, self.on = list(specs), on
        self.loader = loader_views(self.specs) if on == "loader" else None
        self.groups: dict[ViewSpec, list[int]] = {}
        for i, spec in enumerate(self.specs):  # views of one spec (e.g. DINOv2's local crops) in one batch
            self.groups.setdefault(spec, []).append(i)

    def item(self, img: Image.Image) -> list[torch.Tensor] | torch.Tensor:
        if self.loader:
            return self.loader(img)
        return torch.rand(len(self.specs), N_UNIFORMS, dtype=torch.float64)

    def __call__(self, batch: list[torch.Tensor] | torch.Tensor, originals: torch.Tensor,
                 device: torch.device) -> list[torch.Tensor]:
        if self.loader:
            return [v.to(device, non_blocking=True) for v in batch]
        originals = originals.to(device, non_blocking=True)
        views: list[torch.Tensor] = [torch.empty(0)] * len(self.specs)
        with torch.autocast(device.type, enabled=False):
            for spec, index in self.groups.items():
                u = batch[:, index].transpose(0, 1).reshape(-1, N_UNIFORMS)  # view-major
                out = device_views(originals.repeat(len(index), 1, 1, 1), u, spec)
                for i, view in zip(index, out.chunk(len(index))):
                    views[i] = view
        return views


def asymmetric_views(recipe: dict[str, Any], interpolation: str = "bilinear") -> list[ViewSpec]:
    """The two asymmetric views of Grill et al. 2020 (BYOL, table 6), which MoCo v3 takes too
    (``main_moco.py`` ``augmentation1`` / ``augmentation2``): crop (scale ``min_scale``-1) and flip,
    colour jitter (0.4, 0.4, 0.2, 0.1) in a random order with p 0.8 (not strengthened), greyscale
    p 0.2, Gaussian blur with ``blur_probs`` (default 1.0 / 0.1), solarisation p 0 / 0.2, at the
    recipe's ``image_size``. The recipe keys ``min_scale`` and ``blur_probs`` are the schema's
    ``$defs/asymmetric_views``."""
    scale = (recipe["min_scale"], 1.0)
    return [ViewSpec(recipe["image_size"], scale, blur_prob=blur, solarize_prob=solarize, interpolation=interpolation)
            for blur, solarize in zip(recipe.get("blur_probs", (1.0, 0.1)), (0.0, 0.2), strict=True)]


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
