"""The gradient ratio (evaluations.gradient_ratio): its official losses against the suite's, the
rescue term's gradient against its closed form, and how the ratio moves with tau, N / k and s."""
from __future__ import annotations

import math

import pytest
import torch

from evaluations.gradient_ratio import (gradient_ratio, moco_v3_official, nt_xent_official, rescue_loss,
                                        scale_matched_s, synthetic_embeddings, weight_ratio)

torch.set_num_threads(1)


def test_the_suites_losses_equal_the_official_formulas():
    from lightly.loss import NTXentLoss

    from ssl_core.methods.mocov3 import contrastive_loss
    from ssl_core.methods.simclr import LOSS_DIRECTIONS

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    suite = NTXentLoss(temperature=0.5)(z1, z2) * LOSS_DIRECTIONS["sum"]
    assert float(nt_xent_official(z1, z2, 0.5)) == pytest.approx(float(suite), rel=1e-5)
    k1, k2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    suite = contrastive_loss(z1, k2, 0.2) + contrastive_loss(z2, k1, 0.2)
    assert float(moco_v3_official(z1, z2, k1, k2, 0.2)) == pytest.approx(float(suite), rel=1e-5)


def test_synthetic_cosines_and_the_rescue_gradient_in_closed_form():
    z_a, z_b, z_s = synthetic_embeddings(256, 32, 0.6, spread=0.0, strong_cosine=0.3)
    assert torch.nn.functional.cosine_similarity(z_a, z_b).mean() == pytest.approx(0.6, abs=1e-5)
    idx = torch.arange(4)
    a = z_a.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(0.5 * rescue_loss(a, z_s[idx], idx), a)
    # d/da of -cos(a, s) at unit a: -(s - cos a), norm sqrt(1 - cos^2); times s / k
    assert grad[idx].norm(dim=1).tolist() == pytest.approx([0.5 * math.sqrt(1 - 0.3 ** 2) / 4] * 4, rel=1e-4)
    assert grad[4:].abs().max() == 0


def test_the_ratio_scales_with_s_tau_and_n_over_k():
    z_a, z_b, z_s = synthetic_embeddings(256, 32, 0.7)
    base = gradient_ratio("simclr", z_a, z_b, z_s, 8, 1.0, 0.5)["ratio"]
    assert gradient_ratio("simclr", z_a, z_b, z_s, 8, 0.25, 0.5)["ratio"] == pytest.approx(base / 4, rel=1e-5)
    # NT-Xent's gradient grows as tau falls (less than 1 / tau on the easiest rows, whose softmax saturates)
    assert gradient_ratio("simclr", z_a, z_b, z_s, 8, 1.0, 0.1)["ratio"] < 0.75 * base
    moco = [gradient_ratio("mocov3", z_a, z_b, z_s, 8, 1.0, t)["ratio"] for t in (0.2, 1.0)]
    assert moco[0] == pytest.approx(moco[1], rel=0.5)  # x 2 tau: about independent of tau
    assert gradient_ratio("mocov3", z_a, z_b, z_s, 4, 1.0, 0.2)["ratio"] > 1.5 * moco[0]  # half the k, ~twice
    assert weight_ratio(2048, 16, 1.0) == 128 and scale_matched_s(1.5, 10.0) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="no official SSL loss"):
        gradient_ratio("dinov2", z_a, z_b, z_s, 8, 1.0, 0.1)
