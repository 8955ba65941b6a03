import math

import pytest
import torch

from ssl_core.optim import LARS, lr_at, scaled_lr


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
