import copy
import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image
from torch import nn

from ssl_core.augment.common import loader_views
from ssl_core.backbones import build_backbone
from ssl_core.methods import METHODS, StepInfo
from ssl_core.methods.mocov3 import MoCoV3, contrastive_loss, momentum_at

RECIPE = {
    "proj_hidden_dim": 16, "proj_out_dim": 8, "pred_hidden_dim": 12, "temperature": 0.2,
    "momentum_base": 0.9, "optimizer": "lars", "image_size": 16, "min_scale": 0.2,
}


def infonce(q: torch.Tensor, k: torch.Tensor, tau: float) -> torch.Tensor:
    """Independent InfoNCE: for each query i, -log exp(<q_i,k_i>/tau) / sum_j exp(<q_i,k_j>/tau) on
    l2-normalised vectors, averaged, times 2 tau."""
    q = q / q.norm(dim=1, keepdim=True)
    k = k / k.norm(dim=1, keepdim=True)
    total = 0.0
    for i in range(q.shape[0]):
        sims = [float(q[i] @ k[j]) / tau for j in range(k.shape[0])]
        total += -(sims[i] - math.log(sum(math.exp(s) for s in sims)))
    return torch.tensor(2 * tau * total / q.shape[0])


def resnet_model(**kw) -> MoCoV3:
    return MoCoV3.from_recipe(build_backbone("resnet_tiny", width=8), {**RECIPE, **kw})


def vit_model(**kw) -> MoCoV3:
    backbone = build_backbone("vit_tiny_test", img_size=16, patch_size=4, recipe="mocov3",
                              stop_grad_patch_embed=True)
    return MoCoV3.from_recipe(backbone, {**RECIPE, "optimizer": "adamw", **kw})


def momentum_params(model: MoCoV3) -> list[torch.Tensor]:
    return list(model.momentum_backbone.parameters()) + list(model.momentum_projector.parameters())


def online_params(model: MoCoV3) -> list[torch.Tensor]:
    return list(model.backbone.parameters()) + list(model.projector.parameters())


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_contrastive_loss_matches_independent_computation(tau):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert contrastive_loss(q, k, tau).item() == pytest.approx(infonce(q, k, tau).item(), rel=1e-5)


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_contrastive_loss_hand_computed(tau):
    # q = k = N orthonormal vectors: the positive logit is 1/tau, the N-1 negatives 0, so each row is
    # -log(e^{1/tau} / (e^{1/tau} + N - 1)) = log(1 + (N-1) e^{-1/tau}); times 2 tau.
    n = 4
    q = torch.eye(n) * 3.0  # the scale is normalised away
    expected = 2 * tau * math.log(1 + (n - 1) * math.exp(-1 / tau))
    assert contrastive_loss(q, torch.eye(n), tau).item() == pytest.approx(expected, rel=1e-6)


def _gather_worker(rank: int, port: int, q: torch.Tensor, k: torch.Tensor, out: torch.Tensor) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    n = q.shape[0] // 2
    out[rank] = contrastive_loss(q[rank * n:(rank + 1) * n], k[rank * n:(rank + 1) * n], 0.5)
    dist.destroy_process_group()


def test_contrastive_loss_gathers_keys_across_processes():
    # 2 processes with half the batch each: the local queries meet all keys, the positives are
    # offset by rank * N, so the mean of the two local losses is the loss of the whole batch.
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    out = torch.zeros(2).share_memory_()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_gather_worker, args=(port, q, k, out), nprocs=2, start_method="fork")
    assert out.mean().item() == pytest.approx(contrastive_loss(q, k, 0.5).item(), rel=1e-5)


def test_momentum_schedule_end_points():
    assert momentum_at(0.0, 0.99) == pytest.approx(0.99)
    assert momentum_at(1.0, 0.99) == pytest.approx(1.0)
    assert momentum_at(0.5, 0.99) == pytest.approx(0.995)
    # main_moco.py: the fractional epoch epoch + i / iters_per_epoch over args.epochs
    model = resnet_model(momentum_base=0.996)
    info = StepInfo(step=25, total_steps=100, steps_per_epoch=10)
    assert model.momentum(info) == pytest.approx(1 - 0.5 * (1 + math.cos(math.pi * 2.5 / 10)) * 0.004)
    assert resnet_model(momentum_cosine=False).momentum(info) == 0.9


@pytest.mark.parametrize("build", [resnet_model, vit_model], ids=["resnet_tiny", "vit_tiny"])
def test_momentum_update_and_no_gradient(build):
    torch.manual_seed(0)
    model = build()
    assert all(torch.equal(a, b) for a, b in zip(momentum_params(model), online_params(model)))
    with torch.no_grad():  # make the online encoder differ from the momentum copy
        for p in online_params(model):
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    old = [p.detach().clone() for p in momentum_params(model)]
    online = [p.detach().clone() for p in online_params(model)]
    info = StepInfo(step=30, total_steps=100, steps_per_epoch=10)
    m = momentum_at(0.3, 0.9)
    x = [torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)]
    out = model(x, info)
    assert out.logs["momentum"] == pytest.approx(m)
    for new, o, b in zip(momentum_params(model), old, online):
        torch.testing.assert_close(new, m * o + (1 - m) * b)
    out.loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in momentum_params(model))
    assert all(p.grad is not None for p in model.predictor.parameters())
    assert all(p.grad is not None for p in model.projector.parameters())


@pytest.mark.parametrize("build", [resnet_model, vit_model], ids=["resnet_tiny", "vit_tiny"])
def test_forward_features_loss_and_symmetry(build):
    torch.manual_seed(0)
    model = build()
    x_a, x_b = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    info = StepInfo(step=0, total_steps=10, steps_per_epoch=5)
    swapped = copy.deepcopy(model)
    out = model([x_a, x_b], info)
    assert out.z_a.shape == out.z_b.shape == (4, 8) and out.z_a.requires_grad
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    out_swapped = swapped([x_b, x_a], info)
    torch.testing.assert_close(out_swapped.loss, out.loss)
    torch.testing.assert_close(out_swapped.z_a, out.z_b)
    # eval mode (BN running stats): z equals embed(view) and the loss is the hand-written InfoNCE
    model.eval()
    out = model([x_a, x_b], info)  # m = momentum_base at step 0; the update happens before the keys
    torch.testing.assert_close(out.z_a, model.embed(x_a))
    torch.testing.assert_close(out.z_b, model.embed(x_b))
    with torch.no_grad():
        q_a, q_b = model.predictor(out.z_a), model.predictor(out.z_b)
        k_a = model.momentum_projector(model.momentum_backbone(x_a))
        k_b = model.momentum_projector(model.momentum_backbone(x_b))
    expected = infonce(q_a, k_b, 0.2) + infonce(q_b, k_a, 0.2)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-4)
    assert model.rescue_features == "projector" and model.eval_backbone is model.backbone


def test_heads_follow_builder():
    r, v = resnet_model(), vit_model()
    # ResNet: 2-layer projector, predictor without last BN; ViT: 3-layer projector, predictor with it
    assert sum(isinstance(m, nn.Linear) for m in r.projector) == 2
    assert sum(isinstance(m, nn.Linear) for m in v.projector) == 3
    assert isinstance(r.projector[-1], nn.BatchNorm1d) and not r.projector[-1].affine
    assert isinstance(r.predictor[-1], nn.Linear) and isinstance(v.predictor[-1], nn.BatchNorm1d)
    assert all(m.bias is None for m in list(r.projector) + list(r.predictor) if isinstance(m, nn.Linear))
    assert r.predictor[0].in_features == 8 and r.predictor[0].out_features == 12
    assert resnet_model(proj_layers=3, pred_last_bn=True).predictor[-1].affine is False
    # ResNet's zero_init_residual (main_moco.py): last BN gamma of every block is zero
    assert all(torch.all(blk.bn2.weight == 0) for layer in (r.backbone.layer1, r.backbone.layer4) for blk in layer)


def test_frozen_patch_projection_gets_no_gradient():
    torch.manual_seed(0)
    model = vit_model()
    model([torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)], StepInfo(0, 10, 5)).loss.backward()
    proj = model.backbone.patch_embed.proj
    assert proj.weight.grad is None and proj.bias.grad is None
    assert model.backbone.blocks[0].attn.qkv.weight.grad is not None


@pytest.mark.parametrize("build,optimizer", [(resnet_model, "lars"), (vit_model, "adamw"), (vit_model, "lars")])
def test_param_groups_cover_trainable_params_once(build, optimizer):
    model = build(optimizer=optimizer)
    groups = model.param_groups(1e-4)
    ids = [id(p) for g in groups for p in g["params"]]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(ids) == len(set(ids)) and set(ids) == trainable
    assert not set(ids) & {id(p) for p in momentum_params(model)}
    if optimizer == "adamw":  # main_moco.py: AdamW decays every parameter
        assert len(groups) == 1 and groups[0]["weight_decay"] == 1e-4 and groups[0]["wd_mult"] == 1.0
    else:  # moco/optimizer.py LARS: no decay / no adaptation for ndim <= 1
        decay, no_decay = groups
        assert all(p.ndim > 1 for p in decay["params"]) and decay["wd_mult"] == 1.0
        assert all(p.ndim <= 1 for p in no_decay["params"]) and no_decay["wd_mult"] == 0.0
    with pytest.raises(ValueError):
        build(optimizer="sgd")


def test_view_transform_asymmetric_views():
    torch.manual_seed(0)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8))
    views = loader_views(MoCoV3.view_specs(RECIPE))(img)
    assert len(views) == 2
    assert all(v.shape == (3, 16, 16) and v.dtype == torch.float32 for v in views)
    assert not torch.equal(views[0], views[1])
    # blur p = 1.0 on view 1 and 0.1 on view 2, solarise only on view 2 (main_moco.py)
    transform = loader_views(MoCoV3.view_specs({**RECIPE, "blur_probs": [0.0, 0.0]}))
    assert len(transform(img)) == 2


def test_registered_and_built_from_recipe():
    assert METHODS.get("mocov3") is MoCoV3
    model = resnet_model()
    assert model.temperature == 0.2 and model.momentum_base == 0.9
