import math

import pytest
import torch
import torch.nn.functional as F

from ssl_core.backbones import build_backbone
from ssl_core.methods import METHODS
from ssl_core.methods.simclr import SimCLR


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """Independent NT-Xent (SimCLR eq. 1): cross-entropy over the 2N x 2N similarity matrix with the
    diagonal removed and the other view of the same image as the target."""
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    n = z_a.shape[0]
    sim = z @ z.T / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def test_nt_xent_hand_computed_identical_views():
    # Orthogonal images, identical views: each anchor sees its positive at cos 1 and two negatives
    # at cos 0, so every term is -log(e / (e + 2)) = log(1 + 2/e) at tau = 1.
    z = torch.eye(2)
    loss = SimCLR(build_backbone("resnet_tiny"), 8, 4, temperature=1.0).criterion(z, z.clone())
    assert loss.item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-6)


def test_nt_xent_hand_computed_swapped_views():
    # View b of image 0 equals view a of image 1: positives at cos 0, one negative at cos 1,
    # one at 0, so every term is -log(1 / (1 + 1 + e)) = log(2 + e) at tau = 1.
    z_a, z_b = torch.eye(2), torch.eye(2).flip(0)
    loss = SimCLR(build_backbone("resnet_tiny"), 8, 4, temperature=1.0).criterion(z_a, z_b)
    assert loss.item() == pytest.approx(math.log(2 + math.e), abs=1e-6)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_independent_computation(tau):
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    loss = SimCLR(build_backbone("resnet_tiny"), 8, 4, temperature=tau).criterion(z_a, z_b)
    assert loss.item() == pytest.approx(nt_xent(z_a, z_b, tau).item(), rel=1e-5)


def test_simclr_forward_returns_projector_features_of_each_view():
    torch.manual_seed(0)
    model = METHODS.build("simclr", backbone=build_backbone("resnet_tiny"), proj_hidden_dim=16,
                          proj_out_dim=8, temperature=0.2)
    model.eval()  # BN in eval mode: per-sample outputs do not depend on the batch
    x_a, x_b = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    out = model([x_a, x_b])
    assert out.z_a.shape == (4, 8)
    torch.testing.assert_close(out.z_a, model.embed(x_a))
    torch.testing.assert_close(out.z_b, model.embed(x_b))
    torch.testing.assert_close(out.loss, nt_xent(out.z_a, out.z_b, 0.2))
    assert model.rescue_features == "projector"
