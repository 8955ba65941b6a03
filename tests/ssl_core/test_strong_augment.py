"""The strong views: the 14-op FixMatch pool, its magnitudes, Cutout, shapes and reproducibility."""
import math
from collections import Counter

import pytest
import torch

from ssl_core.strong_augment import (FIXMATCH_OPS, GREY, IMAGENET_MEAN, IMAGENET_STD, OP_NAMES, StrongAugment,
                                     apply_op, crop_params, cutout, sample_ops)


def _images(n=4, size=24, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_pool_is_fixmatch_table_12():
    assert len(OP_NAMES) == 14
    assert set(OP_NAMES) == {"AutoContrast", "Brightness", "Color", "Contrast", "Equalize", "Identity", "Posterize",
                             "Rotate", "Sharpness", "ShearX", "ShearY", "Solarize", "TranslateX", "TranslateY"}


def test_op_choice_is_uniform_and_magnitudes_fill_their_ranges():
    g = torch.Generator().manual_seed(0)
    draws = [op for _ in range(7000) for op in sample_ops(2, g)]
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
        else:  # uniform: mean at the centre, both ends reached
            assert sum(values) / len(values) == pytest.approx((lo + hi) / 2, abs=0.04 * (hi - lo))
            assert min(values) < lo + 0.05 * (hi - lo) and max(values) > hi - 0.05 * (hi - lo)


def test_ops_do_what_their_names_say():
    img = _images(1)[0]
    assert torch.equal(apply_op(img, "Identity", None), img)
    half = apply_op(img, "Brightness", 0.5).int()
    assert (half - (img.float() * 0.5).round().int()).abs().max() <= 1
    assert torch.equal(apply_op(img, "Solarize", 0.0), 255 - img)  # threshold 0: every pixel inverts
    assert torch.equal(apply_op(img, "Solarize", 1.0), img)  # threshold 256: none does
    assert torch.equal(apply_op(img, "Posterize", 4), img & 0xF0)
    grey = apply_op(img, "Color", 0.05).float()  # near-greyscale: channels close together
    assert (grey.max(0).values - grey.min(0).values).mean() < (img.float().max(0).values - img.float().min(0).values).mean()
    shifted = apply_op(img, "TranslateX", 0.25)  # 6 pixels right, grey fill on the left
    assert torch.equal(shifted[:, :, 6:], img[:, :, :-6]) and (shifted[:, :, :6] == GREY).all()
    shifted = apply_op(img, "TranslateY", -0.25)
    assert torch.equal(shifted[:, :-6], img[:, 6:]) and (shifted[:, -6:] == GREY).all()
    for name in ("Rotate", "ShearX", "ShearY", "AutoContrast", "Equalize", "Contrast", "Sharpness"):
        v = FIXMATCH_OPS[name][1] if FIXMATCH_OPS[name] else None
        out = apply_op(img, name, v)
        assert out.dtype == torch.uint8 and out.shape == img.shape
    with pytest.raises(KeyError, match="unknown op"):
        apply_op(img, "Invert", None)


def test_cutout_is_a_grey_square_of_at_most_half_the_side():
    img = torch.zeros(3, 32, 32, dtype=torch.uint8)
    g = torch.Generator().manual_seed(1)
    sides = []
    for _ in range(300):
        mask = (cutout(img, 0.5, g) == GREY).all(0)
        if mask.any():
            rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
            h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
            assert mask.sum() == h * w  # one axis-aligned rectangle (a square clipped at the border)
            sides.append(max(h, w))
        else:
            sides.append(0)
    assert max(sides) <= 16 and max(sides) >= 14


def test_crop_params_stay_inside_and_respect_the_scale():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        top, left, h, w = crop_params(40, 30, (0.25, 1.0), g)
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 30
        assert h * w >= 0.2 * 1200  # rounding aside, at least the minimum area


def test_strong_views_shape_normalisation_and_reproducibility():
    aug = StrongAugment(size=16)
    x = _images(5, 24)
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
    same = _images(1).repeat(6, 1, 1, 1)
    out, ops = aug(same, torch.Generator().manual_seed(3), return_ops=True)
    assert len(ops) == 6 and all(len(o) == 2 for o in ops)
    assert len({tuple(o) for o in ops}) > 1
    assert len({out[i].sum().item() for i in range(6)}) > 1


def test_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        StrongAugment(size=8)(torch.rand(2, 3, 8, 8), torch.Generator())


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
