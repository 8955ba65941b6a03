"""The common views made on the device: each batched op against torchvision's per-image kernel, the
parameter draws against torchvision's distributions, and the two paths (loader / device)."""
import math
from collections import Counter

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ssl_core.augment.common import (N_UNIFORMS, CommonViewConfig, ViewSpec, Views, adjust_jitter, device_views,
                                     gaussian_blur, jitter_ranges, photometric, view_params)
from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD, resized_crops
from ssl_core.methods import METHODS
from tests.ssl_core.test_strong_augment import _images

SPEC = ViewSpec(16, (0.2, 1.0), jitter=(0.8, 0.8, 0.8, 0.2), blur_prob=0.5, blur_kernel=5, solarize_prob=0.5)
JITTER_FNS = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


def _uniforms(n, seed=0):
    return torch.rand(n, N_UNIFORMS, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _reference(img, params, i, spec):
    """The photometric ops of view i with torchvision's per-image kernels, in ColorJitter's order
    for that image."""
    if params.jittered[i]:
        for op in params.order[i].tolist():
            img = JITTER_FNS[op](img, float(params.factors[i, op]))
    if params.grey[i]:
        img = TF.rgb_to_grayscale(img, num_output_channels=3)
    if params.sigma[i] > 0:
        s = float(params.sigma[i])
        img = TF.gaussian_blur(img, [spec.kernel()] * 2, [s, s])
    if params.solarized[i]:
        img = TF.solarize(img, 128)
    return img


@pytest.mark.parametrize("op", range(4))
def test_each_jitter_op_is_torchvisions_per_image_op(op):
    images = _images(12, 16, seed=1)
    lo, hi = jitter_ranges((0.8, 0.8, 0.8, 0.5))[op]
    factors = lo + (hi - lo) * torch.rand(12, generator=torch.Generator().manual_seed(op), dtype=torch.float64)
    out = adjust_jitter(images, op, factors)
    ref = torch.stack([JITTER_FNS[op](images[i], float(factors[i])) for i in range(12)])
    diff = (out.int() - ref.int()).abs()
    assert out.dtype == torch.uint8 and diff.max() <= 1 and (diff == 0).float().mean() > 0.999


def test_blur_is_torchvisions_per_image_blur():
    images = _images(10, 20, seed=2)
    sigma = 0.1 + 1.9 * torch.rand(10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for kernel in (3, 9):
        out = gaussian_blur(images, kernel, sigma)
        ref = torch.stack([TF.gaussian_blur(images[i], [kernel] * 2, [float(sigma[i])] * 2) for i in range(10)])
        diff = (out.int() - ref.int()).abs()
        assert diff.max() <= 1 and (diff == 0).float().mean() > 0.99  # separable: a rounding level at most
        assert not torch.equal(out, images)


def test_batched_views_are_torchvisions_per_image_pipeline():
    """Jitter in each image's order, greyscale, blur, solarisation of a whole batch, each image
    with its own parameters, against torchvision's kernels image by image (the rounding of a
    kernel may leave a pixel one level apart); the crops
    (``resized_crops``, the strong views') against torchvision's ``resized_crop`` + flip."""
    originals = _images(64, 16, seed=3)
    u = _uniforms(64)
    params = view_params(u, SPEC, 16, 16)
    for flag in (params.flips, params.jittered, params.grey, params.sigma > 0, params.solarized):
        assert flag.any() and not flag.all()  # every op both drawn and not drawn in the batch
    crops = resized_crops(originals, params.boxes, params.flips, 16)
    for i in range(64):
        top, left, h, w = params.boxes[i].tolist()
        crop = TF.resized_crop(originals[i], top, left, h, w, [16, 16], antialias=True)
        crop = TF.horizontal_flip(crop) if params.flips[i] else crop
        assert (crops[i].int() - crop.int()).abs().max() <= 1
    out = photometric(crops, params, SPEC)
    ref = torch.stack([_reference(crops[i], params, i, SPEC) for i in range(64)])
    diff = (out.int() - ref.int()).abs()
    assert diff.max() <= 1 and (diff == 0).float().mean() > 0.998
    views = device_views(originals, u, SPEC)
    expected = TF.normalize(ref.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    assert views.dtype == torch.float32 and (views - expected).abs().mean() < 0.01


def test_parameter_draws_follow_torchvisions_distributions():
    n = 20000
    spec = ViewSpec(32, (0.2, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_prob=0.8, grey_prob=0.2, blur_prob=0.5,
                    solarize_prob=0.2)
    p = view_params(_uniforms(n, seed=5), spec, 32, 32)
    for flag, prob in ((p.flips, 0.5), (p.jittered, 0.8), (p.grey, 0.2), (p.sigma > 0, 0.5), (p.solarized, 0.2)):
        assert abs(flag.double().mean() - prob) < 4 * math.sqrt(prob * (1 - prob) / n)
    jitter = v2.ColorJitter(*spec.jitter)  # torchvision's own factor ranges
    for op, name in enumerate(("brightness", "contrast", "saturation", "hue")):
        lo, hi = getattr(jitter, name)
        f = p.factors[:, op]
        assert lo <= f.min() < lo + 0.01 * (hi - lo) and hi - 0.01 * (hi - lo) < f.max() <= hi
        assert f.mean() == pytest.approx((lo + hi) / 2, abs=0.02 * (hi - lo))
    sigma = p.sigma[p.sigma > 0]
    assert 0.1 <= sigma.min() < 0.15 and 1.95 < sigma.max() <= 2.0
    orders = Counter(tuple(o) for o in p.order.tolist())  # ColorJitter's randperm(4): 24 orders, uniform
    assert len(orders) == 24 and sum((c - n / 24) ** 2 / (n / 24) for c in orders.values()) < 49.7  # 23 dof
    area = (p.boxes[:, 2] * p.boxes[:, 3]).double() / 1024  # the spec's scale (the strong views' test
    torch.manual_seed(0)                                   # compares the boxes' distributions in full)
    ref = torch.tensor([v2.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), (0.2, 1.0), (3 / 4, 4 / 3))
                        for _ in range(3000)]).double()
    assert area.min() >= 0.18 and area.max() <= 1.0
    assert area.mean() == pytest.approx(float((ref[:, 2] * ref[:, 3]).mean() / 1024), abs=0.015)


def test_jitter_of_strength_zero_is_skipped():
    assert jitter_ranges((0.0, 0.4, 0.0, 0.1)) == [None, (0.6, 1.4), None, (-0.1, 0.1)]
    spec = ViewSpec(8, (1.0, 1.0), jitter=(0.0, 0.0, 0.0, 0.0), jitter_prob=1.0, grey_prob=0.0)
    images = _images(4, 8)
    u = _uniforms(4)
    u[:, 22] = 0.9  # no flip
    assert torch.equal(photometric(images, view_params(u, spec, 8, 8), spec), images)


def test_views_on_the_device_per_method_shapes_and_reproducibility():
    recipe = {"image_size": 16, "min_scale": 0.2, "blur_prob": 0.5, "global_crops_scale": [0.32, 1.0], "local_crops_scale": [0.05, 0.32], "local_crops_number": 3,
              "local_crops_size": 8}
    originals = _images(6, 16)
    for method, sizes in (("simclr", [16] * 2), ("mocov3", [16] * 2), ("dinov2", [16] * 2 + [8] * 3)):
        views = Views(METHODS.get(method).view_specs(recipe), "device")
        torch.manual_seed(0)
        batch = torch.stack([views.item(None) for _ in range(6)])
        out = views(batch, originals, torch.device("cpu"))
        assert [tuple(v.shape) for v in out] == [(6, 3, s, s) for s in sizes]
        assert all(v.dtype == torch.float32 for v in out)
        assert not torch.equal(out[0], out[1])  # the two views of an image differ
        assert len({out[0][i].sum().item() for i in range(6)}) == 6
        again = views(batch.clone(), originals, torch.device("cpu"))
        assert all(torch.equal(a, b) for a, b in zip(out, again))
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the trainer's autocast does not reach them
            mixed = views(batch, originals, torch.device("cpu"))
        assert all(torch.equal(a, b) for a, b in zip(out, mixed))


def test_loader_path_keeps_the_per_image_transforms():
    from PIL import Image

    spec = CommonViewConfig(size=16, blur_prob=0.0).spec()
    views = Views([spec, spec], "loader")
    img = Image.fromarray(_images(1, 20)[0].permute(1, 2, 0).numpy())
    torch.manual_seed(0)
    a = views.item(img)
    assert len(a) == 2 and a[0].shape == (3, 16, 16) and not torch.equal(a[0], a[1])
    batch = [v[None] for v in a]
    assert views(batch, torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.device("cpu"))[0] is batch[0]
    with pytest.raises(ValueError, match="augment_on"):
        Views([spec], "gpu")


def test_original_is_torchvisions_resize_and_centre_crop():
    from PIL import Image

    from ssl_core.augment.originals import original_transform

    reference = v2.Compose([v2.ToImage(), v2.Resize(16, antialias=True), v2.CenterCrop(16)])
    for h, w in ((16, 16), (20, 30), (41, 23)):
        img = Image.fromarray(_images(1, max(h, w))[0, :, :h, :w].permute(1, 2, 0).numpy())
        out = original_transform(16)(img)
        assert out.dtype == torch.uint8 and torch.equal(out, reference(img))
