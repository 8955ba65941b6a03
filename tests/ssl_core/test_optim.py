import math

import pytest
import torch

from ssl_core.optim import LARS, Schedule, lr_at, scaled_lr


def test_lars_matches_hand_computation():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    b = torch.nn.Parameter(torch.tensor([1.0]))
    opt = LARS([{"params": [w], "weight_decay": 0.5}, {"params": [b], "weight_decay": 0.0}], lr=2.0, momentum=0.9)
    w.grad, b.grad = torch.tensor([[1.0, -2.0]]), torch.tensor([0.5])
    opt.step()
    u = torch.tensor([[1.0 + 1.5, -2.0 + 2.0]])  # g + wd w = [2.5, 0], ||u|| = 2.5
    q = 0.001 * 5 / 2.5
    torch.testing.assert_close(w.detach(), torch.tensor([[3.0, 4.0]]) - 2.0 * q * u)
    torch.testing.assert_close(b.detach(), torch.tensor([1.0 - 2.0 * 0.5]))  # 1-D: plain gradient
    b.grad = torch.tensor([0.5])
    w.grad = None
    opt.step()  # momentum: mu = 0.9 * 0.5 + 0.5
    torch.testing.assert_close(b.detach(), torch.tensor([0.0 - 2.0 * 0.95]))


def test_lr_schedule_and_scaling():
    assert scaled_lr(0.3, 4096, "linear") == pytest.approx(4.8)  # SimCLR, paper Sec. 4
    assert scaled_lr(0.004, 2048, "sqrt", 1024) == pytest.approx(0.004 * math.sqrt(2))  # DINOv2
    assert lr_at(0, 100, 10, 1.0) == 0.0
    assert lr_at(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(5, 100, 10, 1.0) == pytest.approx(0.5)
    assert lr_at(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert lr_at(99, 100, 10, 1.0) < 1e-3
    with pytest.raises(ValueError, match="unknown lr scaling"):
        scaled_lr(1.0, 256, "cubic")


def _moco_v3_lars_step(params, state, lr, wd, momentum=0.9, eta=0.001):
    """facebookresearch/moco-v3 moco/optimizer.py LARS.step, transcribed (one group)."""
    for p in params:
        dp = p.grad
        if p.ndim > 1:
            dp = dp.add(p, alpha=wd)
            param_norm, update_norm = torch.norm(p), torch.norm(dp)
            one = torch.ones_like(param_norm)
            q = torch.where(param_norm > 0.0, torch.where(update_norm > 0, eta * param_norm / update_norm, one), one)
            dp = dp.mul(q)
        mu = state.setdefault(p, torch.zeros_like(p))
        mu.mul_(momentum).add_(dp)
        p.add_(mu, alpha=-lr)


def test_lars_matches_moco_v3_over_steps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        net[2].weight.zero_()  # a zero matrix: q = 1 there
    ref = [p.detach().clone() for p in net.parameters()]
    opt = LARS([{"params": list(net.parameters()), "weight_decay": 0.1}], lr=0.5, momentum=0.9)
    state: dict = {}
    for _ in range(3):
        grads = [torch.randn_like(p) for p in ref]
        for p, g in zip(net.parameters(), grads):
            p.grad = g.clone()
        opt.step()
        for p, g in zip(ref, grads):
            p.grad = g.clone()
        _moco_v3_lars_step(ref, state, lr=0.5, wd=0.1)
        for p, r in zip(net.parameters(), ref):
            torch.testing.assert_close(p.detach(), r)


def test_schedule_sets_every_group():
    """Schedule: steps from the recipe's epochs, and per step each group's lr (warm-up, cosine to
    min_lr, x lr_mult, 0 for the last layer while frozen) and weight decay (cosine, x wd_mult)."""
    recipe = {"epochs": 4, "warmup_epochs": 1, "weight_decay": 0.04, "weight_decay_end": 0.4,
              "freeze_last_layer_epochs": 1, "min_lr": 1e-6}
    schedule = Schedule.of(recipe, data_steps=10, peak_lr=0.5)
    assert (schedule.steps_per_epoch, schedule.total_steps, schedule.warmup_steps, schedule.freeze_last_steps) == \
        (10, 40, 10, 10)
    assert Schedule.of({**recipe, "epoch_length": 3}, 10, 0.5).total_steps == 12  # epochs of epoch_length steps
    assert Schedule.of(recipe, 10, 0.5, trains=False).total_steps == 0  # a floor: no step
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    opt = torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr_mult": 0.2, "wd_mult": 0.0},
                           {"params": [params[2]], "is_last_layer": True}], lr=0.1)
    for step in (0, 5, 10, 25, 39):
        lr = schedule.apply(opt, step)
        want = 0.5 * step / 10 if step < 10 else 1e-6 + (0.5 - 1e-6) * 0.5 * (1 + math.cos(math.pi * (step - 10) / 30))
        # lightly's cosine_schedule: from start to end over max_steps - 1 steps
        wd = 0.4 if step >= 39 else 0.4 - (0.4 - 0.04) * (math.cos(math.pi * step / 39) + 1) / 2
        assert lr == pytest.approx(want)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([want, 0.2 * want, 0.0 if step < 10 else want])
        assert [g["weight_decay"] for g in opt.param_groups] == pytest.approx([wd, 0.0, wd])
