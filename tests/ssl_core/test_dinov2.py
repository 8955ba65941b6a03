import json
import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image

from ssl_core.augment.common import loader_views
from ssl_core.backbones import build_backbone, load_backbone
from ssl_core.losses.centering import TeacherCentering, sinkhorn_knopp
from ssl_core.losses.dino_clstoken import DINOClsTokenLoss
from ssl_core.losses.ibot_patch import IBOTPatchLoss
from ssl_core.losses.koleo import koleo_loss
from ssl_core.masking import BlockMaskGenerator, batch_masks
from ssl_core.methods import METHODS, StepInfo
from ssl_core.methods.dinov2 import DINOv2, head_with_bottleneck, lr_decay_rate, teacher_temp_at
from ssl_core.optim import lr_at
from ssl_core.training import pretrain
from ssl_core.vit import dinov2_pos_embed
from tests.ssl_core.test_trainer import make_spec, read_metrics

RECIPE = {
    "image_size": 16, "head_n_prototypes": 32, "head_hidden_dim": 24, "head_bottleneck_dim": 8,
    "centering": "centering", "momentum_teacher": 0.9, "warmup_teacher_temp": 0.04, "teacher_temp": 0.07,
    "warmup_teacher_temp_epochs": 1, "koleo_loss_weight": 0.1, "ibot_loss_weight": 1.0,
    "mask_sample_probability": 0.5, "mask_ratio_min_max": [0.1, 0.5], "global_crops_scale": [0.32, 1.0],
    "local_crops_scale": [0.05, 0.32], "local_crops_number": 2, "local_crops_size": 8,
    "blur_probs": [0.0, 0.0, 0.0], "layerwise_decay": 0.9, "patch_embed_lr_mult": 0.2, "clip_grad_per_module": 3.0,
    "backbone": {"img_size": 16, "patch_size": 4, "recipe": "dinov2", "drop_path_rate": 0.1, "init_values": 1e-5,
                 "mask_token": True},
}


def build(**kw) -> DINOv2:
    recipe = {**RECIPE, **kw}
    return DINOv2.from_recipe(build_backbone("vit_tiny_test", **recipe["backbone"]), recipe)


def views(n=4, n_local=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 16, 16, generator=g) for _ in range(2)] + \
        [torch.randn(n, 3, 8, 8, generator=g) for _ in range(n_local)]


def cross_entropy(p: list[float], logits: list[float], temp: float) -> float:
    """-sum_k p_k log softmax(logits / temp)_k, in plain Python."""
    scaled = [x / temp for x in logits]
    log_z = math.log(sum(math.exp(x) for x in scaled))
    return -sum(pk * (x - log_z) for pk, x in zip(p, scaled))


def softmax(x: list[float], temp: float) -> list[float]:
    e = [math.exp(v / temp) for v in x]
    return [v / sum(e) for v in e]


# --- losses -------------------------------------------------------------------------------------

def test_dino_clstoken_loss_with_centering_matches_independent_computation():
    g = torch.Generator().manual_seed(0)
    b, k, tt = 3, 5, 0.05
    loss_fn = DINOClsTokenLoss(k, "centering")
    for call in range(2):  # the second call sees the centre updated by the first (momentum 0.9)
        teacher = torch.randn(2 * b, k, generator=g)
        students = [torch.randn(b, k, generator=g) for _ in range(4)]  # 2 global + 2 local crops
        center = [0.0] * k if call == 0 else [0.1 * c for c in previous_mean]
        targets = [[softmax([teacher[v * b + i, j].item() - center[j] for j in range(k)], tt) for i in range(b)]
                   for v in range(2)]
        total, pairs = 0.0, 0
        for s_idx, s in enumerate(students):
            for t_idx in range(2):
                if s_idx != t_idx:
                    total += sum(cross_entropy(targets[t_idx][i], s[i].tolist(), 0.1) for i in range(b)) / b
                    pairs += 1
        assert pairs == 6
        got = loss_fn(students, teacher, tt)
        assert got.item() == pytest.approx(total / pairs, rel=1e-5)
        previous_mean = teacher.mean(dim=0).tolist()
    torch.testing.assert_close(loss_fn.teacher.center.value[0], 0.9 * torch.tensor(center) + 0.1 * teacher.mean(dim=0))


def test_dino_clstoken_loss_without_local_crops_uses_the_official_denominator():
    # ssl_meta_arch.py: n_local_crops_loss_terms = max(0, 1) = 1, so the 2 global pairs are divided by 3.
    g = torch.Generator().manual_seed(1)
    teacher, students = torch.randn(4, 6, generator=g), [torch.randn(2, 6, generator=g) for _ in range(2)]
    targets = F.softmax(teacher / 0.04, dim=-1).chunk(2)
    pair = lambda t, s: -(t * F.log_softmax(s / 0.1, dim=-1)).sum(-1).mean()  # noqa: E731
    expected = (pair(targets[1], students[0]) + pair(targets[0], students[1])) / 3
    assert DINOClsTokenLoss(6)(students, teacher, 0.04).item() == pytest.approx(expected.item(), rel=1e-6)


def test_ibot_patch_loss_matches_independent_computation():
    g = torch.Generator().manual_seed(2)
    k, tt = 4, 0.07
    masks = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.bool)  # image 1 unmasked
    m = int(masks.sum())
    student, teacher = torch.randn(m, k, generator=g), torch.randn(m, k, generator=g)
    loss_fn = IBOTPatchLoss(k, "centering")
    got = loss_fn(student, teacher, masks, tt)
    # per masked patch: CE(teacher softmax, student / 0.1) / (masked patches of its image); sum / 3 images
    owner = [i for i in range(3) for j in range(4) if masks[i, j]]
    per_image = [int(masks[i].sum()) for i in range(3)]
    expected = sum(cross_entropy(softmax(teacher[r].tolist(), tt), student[r].tolist(), 0.1) / per_image[owner[r]]
                   for r in range(m)) / 3
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # the centre: 0.1 x the mean of the masked teacher tokens
    torch.testing.assert_close(loss_fn.teacher.center.value[0], 0.1 * teacher.mean(dim=0))


def test_koleo_matches_independent_computation():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 5, generator=g) * 3
    unit = [v / np.linalg.norm(v) for v in x.double().numpy()]
    total = 0.0
    for i, u in enumerate(unit):
        nearest = min(np.linalg.norm(u - w) for j, w in enumerate(unit) if j != i)
        total += -math.log(nearest + 1e-8)
    assert koleo_loss(x).item() == pytest.approx(total / 6, rel=1e-5)
    # spread-out points have a lower KoLeo loss than clustered ones
    assert koleo_loss(torch.eye(6)).item() < koleo_loss(torch.eye(6) + 5).item()


def sinkhorn_reference(logits: np.ndarray, temp: float, iterations: int) -> np.ndarray:
    """SwAV's algorithm: Q = exp(L / T)^T (K x B), normalised to total 1, then alternately every
    prototype (row) to mass 1/K and every sample (column) to 1/B; returned B x K times B."""
    q = np.exp(logits / temp).T
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(axis=1, keepdims=True) * k
        q /= q.sum(axis=0, keepdims=True) * b
    return (q * b).T


def test_sinkhorn_knopp_normalises_samples_and_balances_prototypes():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(8, 5, generator=g)
    q = sinkhorn_knopp(logits, 0.5)
    np.testing.assert_allclose(q.numpy(), sinkhorn_reference(logits.double().numpy(), 0.5, 3), rtol=1e-5)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(8))  # every sample: an assignment
    converged = sinkhorn_knopp(logits, 0.5, n_iterations=200)
    torch.testing.assert_close(converged.sum(dim=0), torch.full((5,), 8 / 5), rtol=1e-4, atol=1e-4)  # equal mass
    # with "sinkhorn_knopp" the teacher targets are these assignments and no centre is kept
    centering = TeacherCentering(5, "sinkhorn_knopp")
    torch.testing.assert_close(centering(logits, 0.5), q)
    assert torch.count_nonzero(centering.center.value) == 0
    with pytest.raises(ValueError, match="unknown centering"):
        TeacherCentering(5, "mean")


def _centering_worker(rank: int, port: int, cls: torch.Tensor, patches: list[torch.Tensor], out: dict) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    n = cls.shape[0] // 2
    out[f"sk_cls{rank}"].copy_(sinkhorn_knopp(cls[rank * n:(rank + 1) * n], 0.1))
    out[f"sk_patch{rank}"][: len(patches[rank])].copy_(sinkhorn_knopp(patches[rank], 0.1))
    centering = TeacherCentering(cls.shape[1], "centering")
    centering(cls[rank * n:(rank + 1) * n], 0.1)
    out[f"center{rank}"].copy_(centering.center.value[0])
    ibot = TeacherCentering(cls.shape[1], "centering")
    ibot(patches[rank], 0.1)
    out[f"ibot_center{rank}"].copy_(ibot.center.value[0])
    dist.destroy_process_group()


def test_centering_and_sinkhorn_all_reduce_across_processes():
    """dino_clstoken_loss.py / ibot_patch_loss.py: 2 processes with half the class tokens each
    give the Sinkhorn assignments and the centre of the whole batch; iBOT's masked patches (unequal
    counts per process) give the Sinkhorn of all patches and the mean of the per-process means."""
    g = torch.Generator().manual_seed(5)
    cls = torch.randn(6, 7, generator=g)
    patches = [torch.randn(5, 7, generator=g), torch.randn(2, 7, generator=g)]
    out = {f"{name}{r}": torch.zeros(shape).share_memory_() for r in range(2)
           for name, shape in (("sk_cls", (3, 7)), ("sk_patch", (5, 7)), ("center", (7,)), ("ibot_center", (7,)))}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_centering_worker, args=(port, cls, patches, out), nprocs=2, start_method="fork")
    torch.testing.assert_close(torch.cat([out["sk_cls0"], out["sk_cls1"]]), sinkhorn_knopp(cls, 0.1))
    torch.testing.assert_close(torch.cat([out["sk_patch0"], out["sk_patch1"][:2]]),
                               sinkhorn_knopp(torch.cat(patches), 0.1))
    for r in range(2):
        torch.testing.assert_close(out[f"center{r}"], 0.1 * cls.mean(dim=0))
        torch.testing.assert_close(out[f"ibot_center{r}"], 0.1 * (patches[0].mean(0) + patches[1].mean(0)) / 2)


# --- schedules, head, masks, param groups --------------------------------------------------------

def test_teacher_temperature_and_momentum_schedules_end_points():
    # train.py: linspace(0.04, 0.07, warm-up iterations), then 0.07
    assert teacher_temp_at(0, 30, 0.04, 0.07) == 0.04
    assert teacher_temp_at(29, 30, 0.04, 0.07) == pytest.approx(0.07)
    assert teacher_temp_at(30, 30, 0.04, 0.07) == teacher_temp_at(10_000, 30, 0.04, 0.07) == 0.07
    # train.py lr_schedule: warm-up from 0, cosine down to min_lr (1e-6), not to 0
    assert lr_at(0, 100, 10, 1.0, 1e-6) == 0.0 and lr_at(10, 100, 10, 1.0, 1e-6) == pytest.approx(1.0)
    assert lr_at(100, 100, 10, 1.0, 1e-6) == pytest.approx(1e-6) and lr_at(100, 100, 10, 1.0) == 0.0
    model = build()
    assert model.teacher_temp(StepInfo(0, 100, 10)) == 0.04  # warm-up of 1 epoch = 10 steps
    assert model.teacher_temp(StepInfo(9, 100, 10)) == pytest.approx(0.07)
    # teacher EMA after the optimiser step: m = 0.9 at step 0 (base), 1 at the end (cosine)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p))
    teacher = [p.clone() for p in model.teacher_backbone.parameters()]
    student = [p.clone() for p in model.backbone.parameters()]
    model.on_after_optimizer_step(StepInfo(0, 100, 10))
    for new, t, s in zip(model.teacher_backbone.parameters(), teacher, student):
        torch.testing.assert_close(new, 0.9 * t + 0.1 * s)
    before = [p.clone() for p in model.teacher_backbone.parameters()]
    model.on_after_optimizer_step(StepInfo(100, 100, 10))  # m = 1: the teacher does not move
    assert all(torch.equal(a, b) for a, b in zip(model.teacher_backbone.parameters(), before))


def test_embed_is_the_student_head_bottleneck():
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(3, 3, 16, 16)
    cls = model.backbone(x)
    bottleneck, logits = head_with_bottleneck(model.head, cls)
    torch.testing.assert_close(model.embed(x), bottleneck)
    torch.testing.assert_close(logits, model.head(cls))  # the prototype layer comes after it
    assert bottleneck.shape == (3, 8) and logits.shape == (3, 32)
    assert model.rescue_features == "head_bottleneck" and model.eval_backbone is model.teacher_backbone
    # forward: z_a, z_b are the bottleneck embeddings of the two global crops (unmasked here)
    out = build(ibot_loss_weight=0.0).eval()(views(3), StepInfo(0, 10, 5))
    assert out.z_a.shape == out.z_b.shape == (3, 8) and out.z_a.requires_grad


def test_forward_losses_gradients_and_teacher_mode():
    torch.manual_seed(0)
    model = build()
    model.train()
    assert model.backbone.training and not model.teacher_backbone.training and not model.teacher_head.training
    out = model(views(4), StepInfo(0, 10, 5))
    assert torch.isfinite(out.loss) and set(out.logs) == {"loss_dino", "loss_koleo", "loss_ibot", "teacher_temp"}
    expected = float(out.logs["loss_dino"] + 0.1 * out.logs["loss_koleo"] + out.logs["loss_ibot"])
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    out.loss.backward()
    assert model.backbone.mask_token.grad is not None and model.backbone.mask_token.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher_backbone.parameters())
    assert model.head.last_layer.weight_v.grad is not None
    # without iBOT there are no masks: the mask token gets no gradient
    model = build(ibot_loss_weight=0.0)
    out = model(views(4), StepInfo(0, 10, 5))
    out.loss.backward()
    assert "loss_ibot" not in out.logs and model.backbone.mask_token.grad is None


def test_block_masks_follow_the_official_collate():
    torch.manual_seed(0)
    generator = BlockMaskGenerator((8, 8), max_num_patches=32)
    masks = batch_masks(10, generator, (0.1, 0.5), 0.5)
    assert masks.shape == (10, 64) and masks.dtype == torch.bool
    counts = sorted(masks.sum(dim=1).tolist())
    assert counts[:5] == [0] * 5 and all(c > 0 for c in counts[5:])  # int(10 x 0.5) images masked
    assert max(counts) <= int(64 * 0.5)
    assert not torch.equal(masks, batch_masks(10, generator, (0.1, 0.5), 0.5))  # random
    for target in (1, 12, 30):  # grown rectangle by rectangle, never past the target
        assert 1 <= int(generator(target).sum()) <= target
    assert int(generator(0).sum()) == 0


def test_param_groups_layerwise_decay_and_last_layer():
    model = build()
    groups = model.param_groups(0.04)
    ids = [id(p) for g in groups for p in g["params"]]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(ids) == len(set(ids)) and set(ids) == trainable
    by_param = {id(p): g for g in groups for p in g["params"]}
    depth = len(model.backbone.blocks)  # 4
    bb = dict(model.backbone.named_parameters())
    assert by_param[id(bb["pos_embed"])]["lr_mult"] == pytest.approx(0.9 ** (depth + 1))
    assert by_param[id(bb["patch_embed.proj.weight"])]["lr_mult"] == pytest.approx(0.9 ** (depth + 1) * 0.2)
    assert by_param[id(bb["blocks.0.attn.qkv.weight"])]["lr_mult"] == pytest.approx(0.9 ** depth)
    assert by_param[id(bb["blocks.3.mlp.fc1.weight"])]["lr_mult"] == pytest.approx(0.9)
    assert by_param[id(bb["norm.weight"])]["lr_mult"] == 1.0
    for name in ("blocks.0.attn.qkv.bias", "blocks.1.norm1.weight", "blocks.2.ls1.gamma", "norm.bias"):
        assert by_param[id(bb[name])]["wd_mult"] == 0.0, name
    assert by_param[id(bb["blocks.0.attn.qkv.weight"])]["wd_mult"] == 1.0
    last = {id(p) for p in model.head.last_layer.parameters()}
    assert {i for i in ids if by_param[i]["is_last_layer"]} == last
    assert all(by_param[id(p)]["lr_mult"] == 1.0 for p in model.head.parameters())
    assert lr_decay_rate("blocks.11.attn.proj.weight", 0.5, 12) == 0.5 and lr_decay_rate("cls_token", 0.5, 2) == 0.125


def test_dinov2_position_embedding_interpolation():
    # dinov2 interpolate_pos_encoding: bicubic with scale factor (grid + 0.1) / M, no anti-aliasing
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 16, 6)
    out = dinov2_pos_embed(pos, 2, 2, 0.1)
    expected = F.interpolate(pos[:, 1:].reshape(1, 4, 4, 6).permute(0, 3, 1, 2), scale_factor=(2.1 / 4, 2.1 / 4),
                             mode="bicubic", antialias=False).permute(0, 2, 3, 1).reshape(1, 4, 6)
    torch.testing.assert_close(out, torch.cat([pos[:, :1], expected], dim=1))
    assert dinov2_pos_embed(pos, 4, 4, 0.1) is pos
    vit = build_backbone("vit_tiny_test", img_size=16, patch_size=4, recipe="dinov2", drop_path_rate=0.2)
    assert all(b.drop_path1.drop_prob == b.drop_path2.drop_prob == 0.2 for b in vit.blocks)  # uniform


def test_view_transform_two_global_and_local_crops():
    torch.manual_seed(0)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8))
    out = loader_views(DINOv2.view_specs(RECIPE))(img)
    assert [tuple(v.shape) for v in out] == [(3, 16, 16)] * 2 + [(3, 8, 8)] * 2
    assert all(v.dtype == torch.float32 for v in out) and not torch.equal(out[0], out[1])


def test_registered_and_validated():
    assert METHODS.get("dinov2") is DINOv2
    with pytest.raises(ValueError, match="mask token"):
        DINOv2.from_recipe(build_backbone("vit_tiny_test", img_size=16, patch_size=4, recipe="dinov2"), RECIPE)


# --- through the trainer ---------------------------------------------------------------------------

def dinov2_spec(root, variant="rescued", epochs=2, **recipe):
    spec = make_spec(root, variant, epochs)
    spec.update(run=f"dinov2-vit_tiny_test-{variant}-seed0", method="dinov2", arch="vit_tiny_test",
                k=2 if variant == "rescued" else None, s=1.0 if variant == "rescued" else None)
    spec["recipe"] = {**RECIPE, "epochs": epochs, "batch_size": 8, "optimizer": "adamw", "base_lr": 0.004,
                      "lr_scaling": "sqrt", "lr_ref_batch": 1024, "min_lr": 1e-6, "weight_decay": 0.04,
                      "weight_decay_end": 0.4, "warmup_epochs": 1, "freeze_last_layer_epochs": 1, **recipe}
    return spec


def test_rescued_dinov2_run_through_the_trainer(tiny_folder, tmp_path):
    spec = dinov2_spec(tiny_folder)
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    records = read_metrics(tmp_path / "out" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(8))  # 32 images / batch 8 x 2 epochs
    for r in records:
        for key in ("loss_dino", "loss_ibot", "loss_koleo", "teacher_temp", "loss_topk", "topk_sim", "pair_sim"):
            assert key in r and r[key] == r[key], key
        assert r["loss"] == pytest.approx(r["loss_ssl"] + 1.0 * r["loss_topk"], rel=1e-5)
        assert r["topk_sim"] >= r["pair_sim"]
    assert records[0]["teacher_temp"] == 0.04 and records[-1]["teacher_temp"] == 0.07
    assert [r["lr"] for r in records[:2]] == [0.0, pytest.approx(0.004 * math.sqrt(8 / 1024) / 4)]
    # (no collapse check: with LayerScale at 1e-5 every image starts with the same class token, and
    # 8 steps on 32 random images do not separate them)
    assert json.loads((tmp_path / "out" / "run.json").read_text())["steps"] == 8
    backbone = load_backbone(tmp_path / "out" / "backbone.pt")  # the teacher's backbone
    assert backbone(torch.randn(2, 3, 16, 16)).shape == (2, 96)


def test_last_layer_is_frozen_during_the_first_epoch(tiny_folder, tmp_path):
    from ssl_core.io import load_torch

    spec = dinov2_spec(tiny_folder, "baseline", epochs=2)
    pretrain(spec, tmp_path / "out", tmp_path / "ckpt", max_steps=4)  # epoch 1 = 4 steps
    state = load_torch(tmp_path / "ckpt" / "last.pt")["model"]
    torch.manual_seed(0)
    initial = DINOv2.from_recipe(build_backbone("vit_tiny_test", **RECIPE["backbone"]), spec["recipe"])
    assert torch.equal(state["head.last_layer.weight_v"], initial.head.last_layer.weight_v)
    assert not torch.equal(state["head.layers.0.weight"], initial.head.layers[0].weight)
