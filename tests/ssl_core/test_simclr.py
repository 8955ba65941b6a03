import math

import numpy as np
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
    torch.testing.assert_close(out.loss, 2 * nt_xent(out.z_a, out.z_b, 0.2))  # sum of both directions
    assert model.rescue_features == "projector"


LARGE_NUM = 1e9


def official_contrastive_loss(hidden: np.ndarray, temperature: float) -> float:
    """google-research/simclr ``objective.py`` ``add_contrastive_loss`` (one replica,
    hidden_norm=True, weights=1), transcribed to NumPy: ``hidden`` is [2N, D], view 1 then view 2."""
    hidden = hidden / np.linalg.norm(hidden, axis=-1, keepdims=True)
    hidden1, hidden2 = np.split(hidden, 2, 0)
    batch_size = hidden1.shape[0]
    labels = np.eye(batch_size, batch_size * 2)
    masks = np.eye(batch_size)
    logits_aa = hidden1 @ hidden1.T / temperature - masks * LARGE_NUM
    logits_bb = hidden2 @ hidden2.T / temperature - masks * LARGE_NUM
    logits_ab = hidden1 @ hidden2.T / temperature
    logits_ba = hidden2 @ hidden1.T / temperature

    def softmax_cross_entropy(onehot, logits):  # tf.losses.softmax_cross_entropy: mean over rows
        logits = logits - logits.max(1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return float(-(onehot * log_p).sum(1).mean())

    loss_a = softmax_cross_entropy(labels, np.concatenate([logits_ab, logits_aa], 1))
    loss_b = softmax_cross_entropy(labels, np.concatenate([logits_ba, logits_bb], 1))
    return loss_a + loss_b


@pytest.mark.parametrize("tau", [0.1, 0.5])
@pytest.mark.parametrize("directions, factor", [("sum", 1.0), ("mean", 0.5)])
def test_loss_is_the_official_add_contrastive_loss(tau, directions, factor):
    # sum (the default): objective.py's loss_a + loss_b; mean: lightly's NTXentLoss, half of it.
    torch.manual_seed(0)
    model = SimCLR(build_backbone("resnet_tiny"), 16, 8, temperature=tau, loss_directions=directions)
    out = model([torch.randn(6, 3, 16, 16), torch.randn(6, 3, 16, 16)])
    hidden = torch.cat([out.z_a, out.z_b]).detach().double().numpy()
    assert out.loss.item() == pytest.approx(factor * official_contrastive_loss(hidden, tau), rel=1e-5)
    assert SimCLR.from_recipe(build_backbone("resnet_tiny"), {
        "proj_hidden_dim": 16, "proj_out_dim": 8, "temperature": tau}).loss_factor == 2.0  # default: sum


def test_unknown_loss_directions_is_refused():
    with pytest.raises(ValueError, match="loss_directions"):
        SimCLR(build_backbone("resnet_tiny"), 16, 8, loss_directions="max")


@pytest.mark.parametrize("arch, last_bn", [("resnet_tiny", "bn2"), ("resnet50", "bn3")])
def test_init_follows_the_official_resnet_and_head(arch, last_bn):
    torch.manual_seed(0)
    model = SimCLR(build_backbone(arch), 2048, 128)
    blocks = [m for name, m in model.backbone.named_modules() if name.count(".") == 1 and name.startswith("layer")]
    assert blocks
    for block in blocks:  # resnet.py: the block's last BN starts at gamma 0, the shortcut's at 1
        assert torch.count_nonzero(getattr(block, last_bn).weight) == 0
        assert torch.all(block.bn1.weight == 1)
        if block.downsample is not None:
            assert torch.all(block.downsample[1].weight == 1)
    linears = [m for m in model.projector.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2
    for lin in linears:  # model_util.py: N(0, 0.01), no bias
        assert lin.bias is None
        assert lin.weight.std().item() == pytest.approx(0.01, rel=0.05)
        assert abs(lin.weight.mean().item()) < 1e-3
    hidden_bn, out_bn = [m for m in model.projector.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert hidden_bn.bias is not None and out_bn.bias is None  # center=False on the output BN
    assert out_bn.weight is not None and out_bn.weight.requires_grad
    assert "layers.4.bias" not in model.projector.state_dict()
    z = model.projector(torch.randn(32, model.backbone.feature_dim) + 3.0)
    torch.testing.assert_close(z.mean(0), torch.zeros(128), atol=1e-5, rtol=0)  # no shift after BN


def test_zero_init_residual_off_keeps_torchvision_init():
    model = SimCLR(build_backbone("resnet_tiny"), 16, 8, zero_init_residual=False)
    assert torch.all(model.backbone.layer1[0].bn2.weight == 1)
