"""The strong views: the 14-op FixMatch pool, its magnitudes, Cutout, shapes and reproducibility."""
import math
from collections import Counter

import pytest
import torch

from torchvision.transforms.v2 import functional as TF

from ssl_core.augment.ops import GEOMETRIC, GREY, IMAGENET_MEAN, IMAGENET_STD, apply_op, cutout, resized_crops
from ssl_core.augment.strong import FIXMATCH_OPS, OP_NAMES, StrongAugment, apply_ops, sample_params


def _images(n=4, size=24, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_pool_is_fixmatch_table_12():
    assert len(OP_NAMES) == 14
    assert set(OP_NAMES) == {"AutoContrast", "Brightness", "Color", "Contrast", "Equalize", "Identity", "Posterize",
                             "Rotate", "Sharpness", "ShearX", "ShearY", "Solarize", "TranslateX", "TranslateY"}


def _reference_op(img: torch.Tensor, name: str, v: float | None) -> torch.Tensor:
    """The op on one image with torchvision's per-image tensor kernels (what the batched ops must give)."""
    fill = [float(GREY)] * 3
    if name == "Identity":
        return img
    if name in ("AutoContrast", "Equalize"):
        return {"AutoContrast": TF.autocontrast, "Equalize": TF.equalize}[name](img)
    if name in ("Brightness", "Color", "Contrast", "Sharpness"):
        fn = {"Brightness": TF.adjust_brightness, "Color": TF.adjust_saturation, "Contrast": TF.adjust_contrast,
              "Sharpness": TF.adjust_sharpness}[name]
        return fn(img, v)
    if name == "Posterize":
        return TF.posterize(img, int(v))
    if name == "Solarize":
        return img if 256.0 * v > 255 else TF.solarize(img, threshold=256.0 * v)
    if name == "Rotate":
        return TF.rotate(img, v, fill=fill)
    if name in ("ShearX", "ShearY"):
        deg = math.degrees(math.atan(v))
        shear = [deg, 0.0] if name == "ShearX" else [0.0, deg]
        return TF.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear, fill=fill)
    pixels = round(v * img.shape[-1 if name == "TranslateX" else -2])
    return TF.affine(img, angle=0.0, translate=[pixels, 0] if name == "TranslateX" else [0, pixels], scale=1.0,
                     shear=[0.0, 0.0], fill=fill)


def _draws(n=7000, seed=0):
    return sample_params(n, 32, 32, torch.Generator().manual_seed(seed)).op_lists()


def test_op_choice_is_uniform_and_magnitudes_fill_their_ranges():
    draws = [op for ops in _draws() for op in ops]
    counts = Counter(name for name, _ in draws)
    expected = len(draws) / 14
    chi2 = sum((counts[name] - expected) ** 2 / expected for name in OP_NAMES)
    assert chi2 < 36.1  # 13 degrees of freedom, p = 0.001
    for name, rng in FIXMATCH_OPS.items():
        values = [v for n, v in draws if n == name]
        if rng is None:
            assert all(v is None for v in values)
            continue
        lo, hi = rng
        assert all(lo <= v <= hi for v in values)
        if name == "Posterize":
            assert set(values) == {4, 5, 6, 7, 8}
            assert max(Counter(values).values()) / min(Counter(values).values()) < 1.4  # uniform over the 5
        else:  # uniform: mean at the centre, both ends reached
            assert sum(values) / len(values) == pytest.approx((lo + hi) / 2, abs=0.04 * (hi - lo))
            assert min(values) < lo + 0.05 * (hi - lo) and max(values) > hi - 0.05 * (hi - lo)


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_batched_op_is_torchvisions_per_image_op(name):
    """Every image of a batch with its own magnitude gives what torchvision's kernel gives for that
    image alone (the float factors of the blends may round one level apart; nearest-neighbour
    resampling may pick the other neighbour at an exact tie)."""
    images = _images(12, 24, seed=1)
    rng = FIXMATCH_OPS[name]
    g = torch.Generator().manual_seed(2)
    if rng is None:
        v = torch.full((12,), float("nan"), dtype=torch.float64)
    elif name == "Posterize":
        v = torch.randint(4, 9, (12,), generator=g).double()
    else:
        v = rng[0] + (rng[1] - rng[0]) * torch.rand(12, generator=g, dtype=torch.float64)
    out = apply_op(images, name, v)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    ref = torch.stack([_reference_op(images[i], name, None if rng is None else float(v[i])) for i in range(12)])
    diff = (out.int() - ref.int()).abs()
    if name not in GEOMETRIC:
        assert diff.max() <= 1
    assert (diff == 0).float().mean() > 0.999


def test_mixed_ops_in_one_batch_match_each_op_applied_alone():
    images = _images(40, 16, seed=3)
    params = sample_params(40, 16, 16, torch.Generator().manual_seed(4))
    out = apply_ops(images, params.ops[:, 0], params.magnitudes[:, 0])
    assert len(set(params.ops[:, 0].tolist())) > 8  # many different ops in the one batch
    for i in range(40):
        alone = apply_op(images[i:i + 1], OP_NAMES[int(params.ops[i, 0])], params.magnitudes[i:i + 1, 0])
        assert torch.equal(out[i], alone[0])


def test_resized_crops_are_torchvisions_crop_resize_and_flip():
    images = _images(30, 20, seed=5)
    params = sample_params(30, 20, 20, torch.Generator().manual_seed(6))
    out = resized_crops(images, params.boxes, params.flips, 20)
    assert params.flips.any() and not params.flips.all()
    for i in range(30):
        top, left, h, w = params.boxes[i].tolist()
        ref = TF.resized_crop(images[i], top, left, h, w, [20, 20], antialias=True)
        if params.flips[i]:
            ref = TF.horizontal_flip(ref)
        assert (out[i].int() - ref.int()).abs().max() <= 1


def test_ops_do_what_their_names_say():
    img = _images(1)
    one = torch.ones(1, dtype=torch.float64)
    assert torch.equal(apply_op(img, "Identity", one), img)
    half = apply_op(img, "Brightness", 0.5 * one).int()
    assert (half - (img.float() * 0.5).round().int()).abs().max() <= 1
    assert torch.equal(apply_op(img, "Solarize", 0 * one), 255 - img)  # threshold 0: every pixel inverts
    assert torch.equal(apply_op(img, "Solarize", one), img)  # threshold 256: none does
    assert torch.equal(apply_op(img, "Posterize", 4 * one), img & 0xF0)
    grey = apply_op(img, "Color", 0.05 * one)[0].float()  # near-greyscale: channels close together
    spread = lambda x: (x.max(0).values - x.min(0).values).mean()  # noqa: E731  (across channels)
    assert spread(grey) < spread(img[0].float())
    shifted = apply_op(img, "TranslateX", 0.25 * one)[0]  # 6 pixels right, grey fill on the left
    assert torch.equal(shifted[:, :, 6:], img[0, :, :, :-6]) and (shifted[:, :, :6] == GREY).all()
    shifted = apply_op(img, "TranslateY", -0.25 * one)[0]
    assert torch.equal(shifted[:, :-6], img[0, :, 6:]) and (shifted[:, -6:] == GREY).all()
    with pytest.raises(KeyError, match="unknown op"):
        apply_op(img, "Invert", one)


def test_cutout_is_a_grey_square_of_at_most_half_the_side():
    params = sample_params(300, 32, 32, torch.Generator().manual_seed(1))
    masks = (cutout(torch.zeros(300, 3, 32, 32, dtype=torch.uint8), params.cutouts) == GREY).all(1)
    sides = []
    for mask in masks:
        if mask.any():
            rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
            h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
            assert mask.sum() == h * w  # one axis-aligned rectangle (a square clipped at the border)
            sides.append(max(h, w))
        else:
            sides.append(0)
    assert max(sides) <= 16 and max(sides) >= 14
    assert sides.count(0) < 30  # L ~ U[0, 0.5]: side 0 only for L < 1/32


def test_crop_params_stay_inside_and_respect_the_scale():
    boxes = sample_params(2000, 40, 30, torch.Generator().manual_seed(0), crop_scale=(0.25, 1.0)).boxes
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (top + h <= 40).all() and (left >= 0).all() and (left + w <= 30).all()
    assert (h * w >= 0.2 * 1200).all()  # rounding aside, at least the minimum area
    ratio = w / h
    assert ratio.min() >= 0.7 and ratio.max() <= 1.4  # torchvision's 3/4 .. 4/3 (rounding aside)
    assert len(set(top.tolist())) > 5 and len(set(left.tolist())) > 5


def test_strong_views_shape_normalisation_and_reproducibility():
    aug = StrongAugment(size=16)
    x = _images(5, 16)
    a = aug(x, torch.Generator().manual_seed(7))
    b = aug(x, torch.Generator().manual_seed(7))
    c = aug(x, torch.Generator().manual_seed(8))
    assert a.shape == (5, 3, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    lo = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    hi = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    per_channel = a.transpose(0, 1).reshape(3, -1)
    assert (per_channel.min(1).values >= lo - 1e-5).all() and (per_channel.max(1).values <= hi + 1e-5).all()


def test_every_image_gets_its_own_ops():
    aug = StrongAugment(size=16)
    same = _images(1, 16).repeat(6, 1, 1, 1)
    out, ops = aug(same, torch.Generator().manual_seed(3), return_ops=True)
    assert len(ops) == 6 and all(len(o) == 2 for o in ops)
    assert len({tuple(o) for o in ops}) > 1
    assert len({out[i].sum().item() for i in range(6)}) > 1


def test_rejects_float_images_and_originals_not_at_the_crop_size():
    with pytest.raises(ValueError, match="uint8"):
        StrongAugment(size=8)(torch.rand(2, 3, 8, 8), torch.Generator())
    with pytest.raises(ValueError, match="originals of 8 x 8"):
        StrongAugment(size=8)(_images(2, 12), torch.Generator())


def test_larger_originals_are_cropped_whole_and_resized_to_the_view_side():
    """recipe original_size: the crops are drawn over the whole 20 px original (not a 16 px centre
    crop of it) and every strong view comes out at the 16 px crop side."""
    aug = StrongAugment(size=16, original_size=20)
    top, left, h, w = aug.sample(2000, torch.Generator().manual_seed(0)).boxes.unbind(1)
    assert (top + h <= 20).all() and (left + w <= 20).all()
    assert (top + h).max() == 20 and top.min() == 0 and (h * w).max() > 16 * 16  # beyond any 16 px crop
    out = aug(_images(3, 20), torch.Generator().manual_seed(1))
    assert out.shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="originals of 20 x 20"):
        aug(_images(3, 16), torch.Generator())
    with pytest.raises(ValueError, match="smaller than the crop side"):
        StrongAugment(size=16, original_size=12)


def test_full_box_of_a_larger_original_is_its_bilinear_resize():
    # known answer: the whole 20 px image resized to 16 px (bilinear, align_corners=False, no flip)
    x = _images(2, 20)
    full = torch.tensor([[0, 0, 20, 20]] * 2)
    out = resized_crops(x, full, torch.tensor([False, False]), 16)
    ref = torch.nn.functional.interpolate(x.float(), size=(16, 16), mode="bilinear", align_corners=False)
    assert (out.int() - ref.round().int()).abs().max() <= 1


def test_batched_call_draws_ops_and_magnitudes_per_image_uniformly():
    """Through the batched call the trainer uses: every image of a batch draws its own 2 ops (with
    replacement, uniform over the 14, as FixMatch) and magnitudes; a per-batch draw would give one
    op pair per batch."""
    aug = StrongAugment(size=8)
    batch = _images(n=100, size=8)
    g = torch.Generator().manual_seed(0)
    pairs, per_batch_distinct = [], []
    for _ in range(20):
        _, ops = aug(batch, g, return_ops=True)
        pairs += [tuple(name for name, _ in o) for o in ops]
        per_batch_distinct.append(len({tuple(o) for o in ops}))
        for o in ops:
            for name, v in o:
                rng = FIXMATCH_OPS[name]
                assert (v is None) if rng is None else rng[0] <= v <= rng[1]
    assert min(per_batch_distinct) > 90  # 100 images: nearly all op lists (with magnitudes) differ
    first = Counter(p[0] for p in pairs)
    second = Counter(p[1] for p in pairs)
    n = len(pairs)
    for counts in (first, second):  # each position uniform over the 14 ops: chi2, 13 dof, p = 0.001
        assert sum((counts[name] - n / 14) ** 2 / (n / 14) for name in OP_NAMES) < 34.5
    # Positions independent, with replacement: P(both ops equal) = 1/14.
    same = sum(a == b for a, b in pairs) / n
    assert abs(same - 1 / 14) < 4 * math.sqrt((1 / 14) * (13 / 14) / n)


def test_magnitudes_are_uniform_per_image_in_a_batch():
    aug = StrongAugment(size=8)
    _, ops = aug(_images(n=2000, size=8), torch.Generator().manual_seed(1), return_ops=True)
    rotations = [v for o in ops for name, v in o if name == "Rotate"]
    assert len(rotations) > 200
    # Kolmogorov-Smirnov against U[-30, 30] (critical value at alpha = 0.001: 1.95 / sqrt(n)).
    xs = sorted((v + 30) / 60 for v in rotations)
    d = max(max((i + 1) / len(xs) - x, x - i / len(xs)) for i, x in enumerate(xs))
    assert d < 1.95 / math.sqrt(len(xs))
    assert len(set(rotations)) == len(rotations)  # a fresh magnitude per draw, not one per batch


def test_crop_boxes_follow_torchvisions_random_resized_crop():
    """Area fractions and aspect ratios of the vectorised draw against torchvision's own
    ``RandomResizedCrop.get_params`` (two-sample Kolmogorov-Smirnov, alpha = 0.001)."""
    from torchvision.transforms import v2

    n = 3000
    ours = sample_params(n, 32, 32, torch.Generator().manual_seed(0)).boxes
    torch.manual_seed(0)
    ref = torch.tensor([v2.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), (0.08, 1.0), (3 / 4, 4 / 3))
                        for _ in range(n)])  # top, left, h, w

    def ks(a: torch.Tensor, b: torch.Tensor) -> float:
        grid = torch.cat([a, b]).unique()
        cdf = lambda x: torch.searchsorted(x.sort().values, grid, right=True).double() / len(x)  # noqa: E731
        return float((cdf(a) - cdf(b)).abs().max())

    critical = 1.95 * math.sqrt(2 / n)
    for stat in (lambda b: (b[:, 2] * b[:, 3]).double() / 1024, lambda b: b[:, 3].double() / b[:, 2]):
        assert ks(stat(ours), stat(ref)) < critical
    assert ks(ours[:, 0].double() / (33 - ours[:, 2]), ref[:, 0].double() / (33 - ref[:, 2])) < critical  # position


def test_strong_views_are_computed_in_full_precision_under_autocast():
    """The trainer calls the rescue term inside bf16 autocast (on GPU; CPU autocast casts the same
    ops): the strong views must not change."""
    aug = StrongAugment(size=32)
    x = _images(64, 32, seed=9)
    plain = aug(x, torch.Generator().manual_seed(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = aug(x, torch.Generator().manual_seed(4))
    assert mixed.dtype == torch.float32 and torch.equal(plain, mixed)
