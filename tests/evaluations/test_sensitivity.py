"""Figs. 5-6 as paired gains (evaluations.sensitivity) on a synthetic sweep with known gains."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluations.sensitivity import _position, sensitivity_figure, sensitivity_table


def sweep() -> tuple[pd.DataFrame, list[str], list[str]]:
    """Baselines at 50 + 3 * seed; rescued at s = 0.25 +1 (+-0.5 by seed), s = 0.75 -4 on every seed."""
    rows = []
    for seed in range(4):
        rows.append({"run": f"b{seed}", "variant": "baseline", "s": float("nan"), "k": float("nan"), "seed": seed,
                     "value": 50 + 3 * seed})
        rows.append({"run": f"r25-{seed}", "variant": "rescued", "s": 0.25, "k": 2, "seed": seed,
                     "value": 51 + 3 * seed + (0.5 if seed % 2 else -0.5)})
        rows.append({"run": f"r75-{seed}", "variant": "rescued", "s": 0.75, "k": 2, "seed": seed, "value": 46 + 3 * seed})
    top1 = pd.DataFrame(rows).assign(task="linear", metric="top1")
    flags = top1.assign(task="pretrain", metric="collapsed", value=0.0)
    return pd.concat([top1, flags]), sorted(top1[top1.variant == "rescued"].run), sorted(top1[top1.variant == "baseline"].run)


def test_every_point_is_a_paired_gain_beside_the_s0_point(tmp_path):
    ours, rescued, baselines = sweep()
    table = sensitivity_table(ours, "s", rescued, baselines)
    assert table.s.tolist() == [0, 0.25, 0.75]
    assert table.gain.tolist() == pytest.approx([0, 1, -4]) and table.n_pairs.tolist() == [4, 4, 4]
    assert table.gain_low[1] < 1 < table.gain_high[1] and table.gain_low[2] == pytest.approx(-4)  # no spread
    assert table["mean"][0] == pytest.approx(54.5)  # the baselines' top-1, the unpaired std beside it
    sensitivity_figure(table, "s", "simclr", "k = 2", "test", tmp_path / "fig5", main=0.75)
    assert (tmp_path / "fig5.png").stat().st_size > 1000


def test_the_paper_value_is_placed_on_the_even_axis():
    values = [0.0, 0.25, 0.5, 1.0]
    assert _position(values, 0.5) == 2 and _position(values, 0.75) == pytest.approx(2.585, abs=1e-3)
    assert _position(values, 4.0) is None
