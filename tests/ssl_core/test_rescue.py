import pytest
import torch
import torch.nn.functional as F

from ssl_core.backbones import build_backbone
from ssl_core.methods import METHODS
from ssl_core.rescue import RescueRegularizer, select_easiest


def test_select_easiest_picks_the_most_similar_pairs():
    z_a = torch.eye(4)
    # cos(z_a[i], z_b[i]) = 1, 0.6, -1, 0.8 for i = 0..3
    z_b = torch.tensor([[1.0, 0, 0, 0], [0, 0.6, 0.8, 0], [0, 0, -1, 0], [0, 0, 0.6, 0.8]])
    idx, sim = select_easiest(z_a, z_b, 2)
    assert sorted(idx.tolist()) == [0, 3]
    torch.testing.assert_close(sim, torch.tensor([1.0, 0.6, -1.0, 0.8]))
    assert not sim.requires_grad


def test_select_easiest_rejects_k_out_of_range():
    with pytest.raises(ValueError, match="k=5"):
        select_easiest(torch.randn(4, 3), torch.randn(4, 3), 5)


class Recorder:
    """Stands in for the strong augmentation: returns the originals as floats and records them."""

    def __init__(self):
        self.seen = None

    def __call__(self, originals, generator):
        self.seen = originals.clone()
        return originals.float()


def test_strong_views_come_from_the_originals_of_the_selected_pairs():
    z_a = torch.eye(4)
    z_b = torch.tensor([[1.0, 0, 0, 0], [0, 0.6, 0.8, 0], [0, 0, -1, 0], [0, 0, 0.6, 0.8]])
    originals = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 3, 2, 2).contiguous()
    rec = Recorder()
    out = RescueRegularizer(2, rec)(z_a, z_b, originals, embed=lambda x: x.flatten(1)[:, :4], generator=torch.Generator())
    assert sorted(rec.seen[:, 0, 0, 0].tolist()) == [0, 3]
    assert float(out.topk_similarity) == pytest.approx(0.9)
    assert float(out.pair_similarity) == pytest.approx(0.35)


def test_loss_is_negative_cosine_and_falls_as_strong_views_align():
    z_a = F.normalize(torch.randn(8, 6, generator=torch.Generator().manual_seed(1)), dim=1)
    z_b = z_a.clone()
    originals = torch.zeros(8, 3, 2, 2, dtype=torch.uint8)

    def loss_with(z_s):
        rescue = RescueRegularizer(3, lambda x, g: torch.zeros(x.shape[0], 1))
        return rescue(z_a, z_b, originals, embed=lambda x: z_s[: x.shape[0]], generator=torch.Generator())

    idx, _ = select_easiest(z_a, z_b, 3)
    aligned = loss_with(z_a[idx])
    orthogonal = loss_with(torch.stack([torch.linalg.svd(z_a[i : i + 1]).Vh[-1] for i in idx.tolist()]))
    opposite = loss_with(-z_a[idx])
    assert aligned.loss.item() == pytest.approx(-1.0, abs=1e-5)
    assert orthogonal.loss.item() == pytest.approx(0.0, abs=1e-5)
    assert opposite.loss.item() == pytest.approx(1.0, abs=1e-5)
    assert float(aligned.strong_similarity) == pytest.approx(1.0, abs=1e-5)


def test_gradient_step_on_l_topk_pulls_strong_views_towards_common_views():
    z_a = torch.randn(5, 4, generator=torch.Generator().manual_seed(2), requires_grad=True)
    z_s = torch.randn(5, 4, generator=torch.Generator().manual_seed(3), requires_grad=True)
    rescue = RescueRegularizer(5, lambda x, g: torch.zeros(x.shape[0], 1))
    originals = torch.zeros(5, 3, 2, 2, dtype=torch.uint8)

    def cos():
        return F.cosine_similarity(z_a, z_s, dim=1).mean().item()

    before = cos()
    out = rescue(z_a, z_a.detach(), originals, embed=lambda x: z_s, generator=torch.Generator())
    out.loss.backward()
    assert z_a.grad is not None and z_s.grad is not None  # gradients reach both sides
    with torch.no_grad():
        z_a -= 0.5 * z_a.grad
        z_s -= 0.5 * z_s.grad
    assert cos() > before


def test_rescue_adds_exactly_k_extra_forwards():
    from ssl_core.augment.strong import StrongAugment

    torch.manual_seed(0)
    model = METHODS.build("simclr", backbone=build_backbone("resnet_tiny"), proj_hidden_dim=16,
                          proj_out_dim=8, temperature=0.2)
    seen = []
    model.backbone.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    n, k = 6, 2
    views = torch.randn(n, 3, 16, 16), torch.randn(n, 3, 16, 16)
    out = model(list(views))
    assert sum(seen) == 2 * n
    seen.clear()
    out = model(list(views))
    originals = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8)
    RescueRegularizer(k, StrongAugment(size=16))(out.z_a, out.z_b, originals, model.embed, torch.Generator())
    assert seen == [2 * n, k]
