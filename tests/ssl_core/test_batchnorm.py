"""The BatchNorm rule of the strong views (``rescue.bn``, ssl_core/batchnorm.py), in real rescued
training steps of SimCLR and MoCo v3 on the tiny ResNet: at every k the strong embeddings depend
on the images, and the running statistics the probe reads are those of the common views."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssl_core import training as trainer
from ssl_core.batchnorm import CommonViewStatistics
from tests.ssl_core.test_trainer import make_spec


def spec_of(root, method: str, variant: str, k: int | None = None, bn: str = "common") -> dict:
    spec = make_spec(root, variant, epochs=1)
    if method == "mocov3":
        spec["run"] = spec["run"].replace("simclr", "mocov3")
        spec["method"] = "mocov3"
        recipe = {key: value for key, value in spec["recipe"].items() if key != "blur_prob"}  # SimCLR's key
        blur = spec["recipe"].get("blur_prob", 0.0)
        spec["recipe"] = {**recipe, "momentum_base": 0.99, "pred_hidden_dim": 16, "blur_probs": [blur, blur]}
    if variant == "rescued":
        spec["k"] = k
        spec["rescue"] = {"bn": bn, "topk": "per_process"}
    return spec


def first_step(spec, tmp_path, monkeypatch) -> dict:
    """Of ``pretrain``'s first step: the strong embeddings z_s and every BatchNorm's running
    statistics right after the step (before any later step)."""
    seen: dict = {}
    call = trainer.TrainStep.__call__

    def spy(self, views, originals, info, strong_rng=None):
        if seen:
            return call(self, views, originals, info, strong_rng)
        if self.strong_embed is not None:
            embed = self.strong_embed

            def recording(images):
                seen["z_s"] = embed(images).detach()
                return seen["z_s"]
            self.strong_embed = recording
        out = call(self, views, originals, info, strong_rng)
        seen["running"] = {name: b.detach().clone() for name, b in self.model.named_buffers()
                           if name.endswith(("running_mean", "running_var"))}
        return out

    monkeypatch.setattr(trainer.TrainStep, "__call__", spy)
    out = tmp_path / f"{spec['run']}-{spec.get('rescue')}-{spec['k']}"
    trainer.pretrain(spec, out, out / "ckpt", max_steps=1)
    return seen


def off_diagonal_cosines(z: torch.Tensor) -> torch.Tensor:
    z = F.normalize(z, dim=1)
    cos = z @ z.T
    return cos[~torch.eye(len(z), dtype=torch.bool)]


@pytest.mark.parametrize("method", ["simclr", "mocov3"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_strong_embeddings_of_different_images_are_not_antipodal(tiny_folder, tmp_path, monkeypatch, method, k):
    z_s = first_step(spec_of(tiny_folder, method, "rescued", k), tmp_path, monkeypatch)["z_s"]
    assert z_s.shape[0] == k and torch.isfinite(z_s).all()
    if k > 1:
        assert off_diagonal_cosines(z_s).min() > -0.9


@pytest.mark.parametrize("method", ["simclr", "mocov3"])
def test_own_batch_at_k2_makes_the_two_strong_embeddings_opposite(tiny_folder, tmp_path, monkeypatch, method):
    """The artefact the default rule removes (and proof that the test above can fail): two images
    through a train-mode BatchNorm of their own come out at cosine -1."""
    z_s = first_step(spec_of(tiny_folder, method, "rescued", 2, bn="own_batch"), tmp_path, monkeypatch)["z_s"]
    assert off_diagonal_cosines(z_s).max() == pytest.approx(-1.0, abs=1e-4)


@pytest.mark.parametrize("method", ["simclr", "mocov3"])
def test_running_statistics_after_a_rescued_step_are_the_baselines(tiny_folder, tmp_path, monkeypatch, method):
    base = first_step(spec_of(tiny_folder, method, "baseline"), tmp_path, monkeypatch)["running"]
    common = first_step(spec_of(tiny_folder, method, "rescued", 2), tmp_path, monkeypatch)["running"]
    own = first_step(spec_of(tiny_folder, method, "rescued", 2, bn="own_batch"), tmp_path, monkeypatch)["running"]
    assert base.keys() == common.keys() and base
    for name in base:
        assert torch.equal(common[name], base[name]), name
    # The old behaviour gives every BatchNorm of the online path a last update from the strong views.
    assert sum(not torch.equal(own[name], base[name]) for name in base) >= 4


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(6),
                         nn.BatchNorm1d(6, affine=False))


def test_recorded_statistics_are_the_batch_statistics_and_strong_views_are_batch_independent():
    net = _bn_net()
    x = torch.randn(16, 3, 6, 6) * 3 + 1
    net(x)  # materialise the lazy layer
    stats = CommonViewStatistics(net)
    stats.new_step()
    net.train()
    out_train = net(x)
    bn2d, bn1d = net[1], net[5]
    conv = net[0](x)
    mean, var = stats.stats[bn2d]
    torch.testing.assert_close(mean, conv.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(var, conv.var((0, 2, 3), unbiased=False), rtol=1e-4, atol=1e-5)
    running = {n: b.clone() for n, b in net.named_buffers()}
    with stats.normalising():
        # The common views again: normalised with their own statistics, they reproduce the train output.
        torch.testing.assert_close(net(x), out_train, rtol=1e-4, atol=1e-4)
        strong = torch.randn(5, 3, 6, 6)
        together = net(strong)
        alone = torch.cat([net(strong[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(together, alone)  # one image's embedding is the same at any k
    for n, b in net.named_buffers():
        assert torch.equal(b, running[n]), n  # the strong forward leaves the running statistics
    assert bn1d.forward.__func__ is nn.BatchNorm1d.forward  # the layers are themselves again after


def test_a_layer_without_common_statistics_is_an_error():
    net = _bn_net()
    net(torch.randn(4, 3, 6, 6))
    stats = CommonViewStatistics(net)
    stats.new_step()
    with pytest.raises(RuntimeError, match="saw no common view"):
        with stats.normalising():
            net(torch.randn(2, 3, 6, 6))
