"""The linear claims read both ways: at the paper's s and at s tuned as in Sec. 5 (a tuning
profile's confirmation runs at its selected s and k), in the table and the forest plot."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from evaluations.claims import TUNED, TUNED_NONE, claims_table, read_tuned
from evaluations.forest import forest_figure, forest_rows
from evaluations.results import write_csv
from tests.evaluations.test_claims import PAPER
from tests.evaluations.test_fig2 import metrics


def confirmation() -> pd.DataFrame:
    """SimCLR confirmation runs: rescued at the selected s = 0.15 (+2 on every seed) and, beside
    them, rescued runs at another s (-5) the tuned row must not read."""
    at = metrics({("simclr", "resnet_tiny"): [2, 2.2, 1.8]}, with_levels=False)
    at.loc[at.variant == "rescued", ["s", "k"]] = [0.15, 2]
    other = metrics({("simclr", "resnet_tiny"): [-5, -5, -5]}, with_levels=False)
    other = other[other.variant == "rescued"].assign(s=0.5, k=2, run=lambda d: d.run + "-s0.5")
    return pd.concat([at, other], ignore_index=True)


def test_each_linear_claim_has_its_tuned_row_after_it():
    ours = metrics({("simclr", "resnet_tiny"): [-10, -11, -9]})
    selection = {("simclr", "resnet_tiny"): {"s": 0.15, "k": 2}}
    table = claims_table(ours, PAPER, [], tuned=confirmation(), selection=selection)
    linear = table[table.source.str.startswith("Fig. 2")].reset_index(drop=True)
    assert len(linear) == 10 and linear.claim[1] == linear.claim[0] + TUNED
    paper_s, tuned = linear.iloc[0], linear.iloc[1]
    assert paper_s.ours_mean == pytest.approx(-10) and paper_s.verdict == "contradicted"
    assert tuned.ours_mean == pytest.approx(2.0) and tuned.verdict == "reproduced" and tuned.ours_n == 3
    assert tuned.ours_run == "simclr resnet_tiny (confirmation): s = 0.15, k = 2"
    moco = linear[linear.claim.str.startswith("MoCo v3 ResNet-50")]
    assert moco.verdict.tolist() == ["not run", "not run"]
    assert moco.note.iloc[1] == "no MoCo v3 ResNet run in the tuning profile's results"
    rows = forest_rows(table)
    assert set(rows.source) == {"Fig. 2", "Fig. 2, s tuned (Sec. 5)"}


def test_a_tuned_row_not_run_says_which_step_is_missing():
    """A tuning grid run but not selected from, and a selection whose confirmation runs are not in."""
    ours = metrics({("simclr", "resnet_tiny"): [-10, -11, -9], ("mocov3", "resnet_tiny"): [1, 1, 1]})
    grid = confirmation().assign(group="tune")  # tuning runs only, no main (confirmation) run
    grid_moco = grid.assign(method="mocov3", run=lambda d: "moco-" + d.run)
    tuned = pd.concat([grid, grid_moco], ignore_index=True)
    table = claims_table(ours, PAPER, [], tuned=tuned, selection={("simclr", "resnet_tiny"): {"s": 0.15, "k": 2}})
    note = table.set_index("claim").note
    assert note["SimCLR ResNet-50: linear top-1 gain" + TUNED] == \
        "not run yet: no confirmation runs at the selected s = 0.15, k = 2"
    assert note["MoCo v3 ResNet-50: linear top-1 gain" + TUNED] == \
        "not run yet: its tuning grid is not complete (no s and k selected)"


def test_without_a_tuning_profile_the_tuned_rows_say_why(tmp_path):
    table = claims_table(metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), PAPER, [])
    tuned = table[table.claim.str.endswith(TUNED)]
    assert len(tuned) == 5 and (tuned.verdict == "not run").all() and (tuned.note == TUNED_NONE).all()
    metrics_, selection, why = read_tuned(tmp_path / "tuning")
    assert metrics_ is None and why.startswith(f"not run yet: no confirmation runs in {tmp_path / 'tuning'}")
    write_csv(confirmation(), tmp_path / "tuning" / "metrics.csv")
    (tmp_path / "tuning" / "tables").mkdir()
    (tmp_path / "tuning" / "tables" / "tuning_selection.json").write_text(json.dumps(
        {"selection": {"simclr resnet_tiny": {"method": "simclr", "arch": "resnet_tiny", "s": 0.15, "k": 2}}}))
    metrics_, selection, why = read_tuned(tmp_path / "tuning")
    assert selection == {("simclr", "resnet_tiny"): {"method": "simclr", "arch": "resnet_tiny", "s": 0.15, "k": 2}}
    table = claims_table(metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), PAPER, [], tuned=metrics_,
                         selection=selection)
    forest_figure(table, "test", tmp_path / "forest")
    assert (tmp_path / "forest.png").stat().st_size > 1000


def test_the_forest_keeps_a_line_for_a_tuned_row_not_run_yet():
    from evaluations.forest import with_pending_tuned

    table = claims_table(metrics({("simclr", "resnet_tiny"): [-10, -11, -9]}), PAPER, [])
    rows = with_pending_tuned(table, forest_rows(table).reset_index(drop=True))
    assert rows.claim.tolist() == ["SimCLR ResNet-50: linear top-1 gain", "SimCLR ResNet-50: linear top-1 gain" + TUNED]
    assert rows.ours_n.tolist() == [3, 0]
