"""BYOL (ssl_core/methods/byol.py) against independent transcriptions of the official formulas
(deepmind-research byol: helpers.py ``regression_loss``, byol_experiment.py's loss and target
update, schedules.py ``target_ema``) and lightly's BYOL parts, and in real rescued steps."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from lightly.models.utils import update_momentum
from torch import nn

from ssl_core import training as trainer
from ssl_core.backbones import build_backbone
from ssl_core.config import load_config
from ssl_core.methods import METHODS, StepInfo
from ssl_core.methods.byol import BYOL, regression_loss
from tests.ssl_core.test_batchnorm import first_step, off_diagonal_cosines
from tests.ssl_core.test_trainer import make_spec

RECIPE = {"proj_hidden_dim": 16, "proj_out_dim": 8, "pred_hidden_dim": 12, "tau_base": 0.9, "image_size": 16,
          "min_scale": 0.2}


def model_of(**kw) -> BYOL:
    torch.manual_seed(0)
    return BYOL.from_recipe(build_backbone("resnet_tiny", width=8), {**RECIPE, **kw})


def official_regression_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """helpers.py: l2_normalize(x) = x * rsqrt(max(sum x^2, 1e-12)); 2 - 2 sum(nx * ny, -1)."""
    nx = x * torch.rsqrt(torch.clamp((x * x).sum(-1, keepdim=True), min=1e-12))
    ny = y * torch.rsqrt(torch.clamp((y * y).sum(-1, keepdim=True), min=1e-12))
    return 2 - 2 * (nx * ny).sum(-1)


def official_target_ema(step: int, base_ema: float, max_steps: int) -> float:
    """schedules.py ``target_ema``: 1 - (1 - base) * cosine_decay(step), cosine_decay = 0.5 (1 +
    cos(pi min(step, max_steps) / max_steps))."""
    decay = 0.5 * (1 + math.cos(math.pi * min(step, max_steps) / max_steps))
    return 1 - (1 - base_ema) * decay


def views(n: int = 6, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 16, 16, generator=g) for _ in range(2)]


def test_registered_with_its_schema():
    assert METHODS.get("byol") is BYOL
    assert BYOL.rescue_features == "projector"


def test_regression_loss_matches_the_official_and_lightly():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    torch.testing.assert_close(regression_loss(x, y), official_regression_loss(x, y), rtol=1e-6, atol=1e-6)
    assert regression_loss(x, y).mean().item() == pytest.approx(2 + 2 * NegativeCosineSimilarity()(x, y).item(),
                                                                rel=1e-6)


def test_loss_is_both_directions_summed_predictions_against_targets():
    """byol_experiment.py ``loss_fn``: mean(regression_loss(q1, t2) + regression_loss(q2, t1)),
    recomputed here from the model's own parts (one pass per view, target without gradient)."""
    model = model_of().train()
    x1, x2 = views()
    reference = copy.deepcopy(model)
    out = model([x1, x2], StepInfo(0, 10, 5))
    z1, z2 = (reference.projector(reference.backbone(x)) for x in (x1, x2))
    q1, q2 = reference.predictor(z1), reference.predictor(z2)
    with torch.no_grad():
        t1, t2 = (reference.target_projector(reference.target_backbone(x)) for x in (x1, x2))
    expected = (official_regression_loss(q1, t2) + official_regression_loss(q2, t1)).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(out.z_a, z1)  # the rescue features: the online projection of view 0
    assert 0 <= out.loss.item() <= 8
    out.loss.backward()
    assert all(p.grad is None for p in model.target_backbone.parameters())
    assert model.predictor[0].weight.grad is not None and model.backbone.conv1.weight.grad is not None


@pytest.mark.parametrize("step, total", [(0, 100), (25, 100), (50, 100), (99, 100), (100, 100), (3, 7)])
def test_tau_follows_the_official_cosine_schedule(step, total):
    model = model_of(tau_base=0.996)
    assert model.tau(StepInfo(step, total, 10)) == pytest.approx(official_target_ema(step, 0.996, total), abs=1e-12)
    assert model.tau(StepInfo(0, total, 10)) == pytest.approx(0.996)


def test_target_update_after_the_step_is_the_official_ema():
    """byol_experiment.py: target = target + (1 - tau) (online - target) on the parameters, after
    the online update; equal to lightly's ``update_momentum``; BatchNorm buffers are the target's."""
    model = model_of()
    with torch.no_grad():  # an online network that has moved away from its target
        for p in list(model.backbone.parameters()) + list(model.projector.parameters()):
            p.add_(torch.randn_like(p))
    online = [p.detach().clone() for p in list(model.backbone.parameters()) + list(model.projector.parameters())]
    target = [p.detach().clone() for p in list(model.target_backbone.parameters())
              + list(model.target_projector.parameters())]
    buffers = [b.clone() for b in model.target_backbone.buffers()]
    lightly_target = copy.deepcopy(nn.ModuleList([model.target_backbone, model.target_projector]))
    info = StepInfo(30, 100, 10)
    tau = official_target_ema(30, 0.9, 100)
    model.on_after_optimizer_step(info)
    after = list(model.target_backbone.parameters()) + list(model.target_projector.parameters())
    for new, old, o in zip(after, target, online):
        torch.testing.assert_close(new, old + (1 - tau) * (o - old))
    update_momentum(nn.ModuleList([model.backbone, model.projector]), lightly_target, tau)
    for new, ref in zip(after, lightly_target.parameters()):
        torch.testing.assert_close(new, ref)
    assert all(torch.equal(a, b) for a, b in zip(model.target_backbone.buffers(), buffers))


def test_heads_have_the_official_and_lightlys_shapes():
    """networks.py MLP: Linear(hidden, bias) - BN - ReLU - Linear(out, no bias); lightly's heads
    have the same weight shapes (their biases sit the other way round)."""
    model = BYOL(build_backbone("resnet_tiny", width=8), proj_hidden_dim=32, proj_out_dim=8, pred_hidden_dim=24)
    for ours, theirs in ((model.projector, BYOLProjectionHead(64, 32, 8)), (model.predictor, BYOLPredictionHead(8, 24, 8))):
        ours_w = [m.weight.shape for m in ours if isinstance(m, nn.Linear)]
        theirs_w = [m.weight.shape for m in theirs.modules() if isinstance(m, nn.Linear)]
        assert ours_w == theirs_w
        assert ours[0].bias is not None and ours[3].bias is None and isinstance(ours[1], nn.BatchNorm1d)
    assert BYOL(build_backbone("resnet_tiny")).projector[0].out_features == 4096  # official defaults 4096-256
    assert BYOL(build_backbone("resnet_tiny")).predictor[3].out_features == 256


def test_zero_init_residual_blocks():
    """haiku BlockV1: scale_init zeros on the last BN of the ResNet-50's bottleneck blocks; here of
    every residual block (the suite's rule), and none when switched off."""
    deep = BYOL(build_backbone("resnet50"), 16, 8, 16)
    assert all(bool((b.bn3.weight == 0).all()) for b in deep.backbone.modules() if hasattr(b, "bn3"))
    off = BYOL(build_backbone("resnet_tiny", width=8), 16, 8, 16, zero_init_residual=False)
    assert all(bool((m.weight == 1).all()) for m in off.backbone.modules() if isinstance(m, nn.BatchNorm2d))
    assert not all(bool((m.weight == 1).all()) for m in model_of().backbone.modules() if isinstance(m, nn.BatchNorm2d))


def byol_spec(root, variant: str, k: int | None = None, bn: str = "common") -> dict:
    spec = make_spec(root, variant, epochs=1)
    spec["run"], spec["method"] = spec["run"].replace("simclr", "byol"), "byol"
    recipe = {key: v for key, v in spec["recipe"].items() if key not in ("temperature", "blur_prob")}
    spec["recipe"] = {**recipe, "tau_base": 0.99, "pred_hidden_dim": 16, "blur_probs": [0.0, 0.0]}
    if variant == "rescued":
        spec["k"] = k
        spec["rescue"] = {"bn": bn, "topk": "per_process"}
    return spec


@pytest.mark.parametrize("k", [2, 4])
def test_rescued_step_strong_embeddings_use_the_common_views_statistics(tiny_folder, tmp_path, monkeypatch, k):
    """BYOL's online network has BatchNorm: under rescue.bn common the k strong views are
    normalised with view 0's statistics (not at cosine -1 as a batch of their own at k = 2), and
    every running statistic (online, predictor, target) after the step is the baseline's."""
    seen = first_step(byol_spec(tiny_folder, "rescued", k), tmp_path, monkeypatch)
    assert seen["z_s"].shape == (k, 8) and torch.isfinite(seen["z_s"]).all()
    assert off_diagonal_cosines(seen["z_s"]).min() > -0.9
    base = first_step(byol_spec(tiny_folder, "baseline"), tmp_path, monkeypatch)["running"]
    assert base.keys() == seen["running"].keys() and any(name.startswith("target_") for name in base)
    for name in base:
        assert torch.equal(seen["running"][name], base[name]), name
    # The old rule (a train-mode batch of their own) gives the online BatchNorms a last update from
    # the strong views, so the equality above can fail. (BYOL's projector ends in a Linear, not a
    # BatchNorm without shift: k = 2 strong views are not driven to cosine -1 as SimCLR's.)
    own = first_step(byol_spec(tiny_folder, "rescued", k, bn="own_batch"), tmp_path, monkeypatch)["running"]
    changed = [name for name in base if not torch.equal(own[name], base[name])]
    assert changed and not any(name.startswith(("target_", "predictor")) for name in changed)


def test_trainer_runs_the_target_update_and_logs_tau(tiny_folder, tmp_path):
    spec = byol_spec(tiny_folder, "rescued", 2)
    assert trainer.pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    import json
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["tau"] for r in records] == pytest.approx([official_target_ema(r["step"], 0.99, 4) for r in records])
    assert all(r["loss"] == pytest.approx(r["loss_ssl"] + 0.75 * r["loss_topk"], rel=1e-5) for r in records)


@pytest.mark.parametrize("profile", ["config/config.yaml", "config/small.yaml"])
def test_profiles_validate_with_byol(profile):
    config = load_config(profile)
    assert "byol" in config["methods"] and any(e["method"] == "byol" for e in config["experiments"])
