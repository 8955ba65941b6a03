"""Table 2 from metrics.csv (needs no Detectron2): published values always, ours where present."""
from __future__ import annotations

import pandas as pd

from evaluations import results, table2
from tests.conftest import ROOT


def _ours(values: dict[str, float], method: str = "simclr") -> pd.DataFrame:
    rows = []
    for variant, offset in (("baseline", 0.0), ("rescued", 1.0)):
        run = f"{method}-resnet_tiny-{variant}-seed0"
        for (task, metric) in table2.TABLE2_COLUMNS:
            rows.append({"run": run, "method": method, "arch": "resnet_tiny", "variant": variant, "s": None,
                         "k": None, "seed": 0, "task": task, "dataset": "shapes", "metric": metric,
                         "value": values.get(metric, 10.0) + offset})
    return pd.DataFrame(rows, columns=results.COLUMNS)


def test_not_run_rows_keep_published_values():
    paper = results.read_metrics(ROOT / "results" / "paper" / "table2_dense.csv")
    table = table2.table2_table(pd.DataFrame(columns=results.COLUMNS), paper, "tiny",
                                "not run: Detectron2 not installed")
    assert len(table) == 12
    pub = table[table.source == "published"].set_index(["method", "variant"])
    assert pub.loc[("simclr", "baseline"), "det_voc_AP"] == 43.9
    assert pub.loc[("dinov2", "rescued"), "seg_coco_AP75"] == 45.8
    ours = table[table.source == "ours"]
    assert ours.status.eq("not run: Detectron2 not installed").all() and ours.det_voc_AP.isna().all()
    tex = table2.table2_latex(table, "tiny")
    assert tex.count("not run: Detectron2 not installed") == 6
    # the paper's marks: Ours(MoCo v3) best overall in COCO AP^bb_75 (44.4), bold over MoCo v3's 42.5
    assert r"\textbf{\underline{44.4}}" in tex and "42.5 &" in tex


def test_ours_beside_published_with_pair_marks():
    paper = results.read_metrics(ROOT / "results" / "paper" / "table2_dense.csv")
    table = table2.table2_table(_ours({"AP": 5.0}), paper, "tiny", "not run in profile tiny")
    ours = table[(table.source == "ours") & (table.method == "simclr")].set_index("variant")
    assert ours.loc["baseline", "det_voc_AP"] == 5.0 and ours.loc["rescued", "det_voc_AP"] == 6.0
    assert (ours.ours_arch == "resnet_tiny").all() and ours.status.str.startswith("scaled-down").all()
    tex = table2.table2_latex(table, "tiny")
    ours_block = tex.split("Ours (profile tiny)")[1]
    assert r"Ours(SimCLR) & ResNet-tiny & \textbf{\underline{6.0}}" in ours_block
    assert "SimCLR & ResNet-tiny & 5.0" in ours_block


def test_a_method_run_on_the_other_family_only_stands_in():
    """Tiny and small run MoCo v3 on the tiny ResNet; its published Table 2 row is a ViT-B."""
    paper = results.read_metrics(ROOT / "results" / "paper" / "table2_dense.csv")
    table = table2.table2_table(_ours({"AP": 7.0}, method="mocov3"), paper, "tiny", "not run in profile tiny")
    ours = table[(table.source == "ours") & (table.method == "mocov3")].set_index("variant")
    assert (ours.arch == "vit_base").all() and (ours.ours_arch == "resnet_tiny").all()
    assert ours.loc["rescued", "det_coco_AP"] == 8.0 and ours.status.str.startswith("scaled-down").all()


def _floor(values: dict[str, float], method: str = "simclr", seeds: tuple[int, ...] = (0, 1)) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        for (task, metric) in table2.TABLE2_COLUMNS:
            rows.append({"run": f"{method}-resnet_tiny-random_init-seed{seed}", "method": method, "arch": "resnet_tiny",
                         "variant": "random_init", "s": None, "k": None, "seed": seed, "task": task,
                         "dataset": "shapes", "metric": metric, "value": values.get(metric, 1.0) + seed})
    return pd.DataFrame(rows, columns=results.COLUMNS)


def test_floor_rows_follow_ours_and_are_never_marked():
    """eval.dense.floor: the random-init backbone through the same recipe is a row of its own (mean
    over seeds); the pair marks stay those of baseline vs rescued even where the floor is higher."""
    paper = results.read_metrics(ROOT / "results" / "paper" / "table2_dense.csv")
    ours = pd.concat([_ours({"AP": 5.0}), _floor({"AP": 20.0, "AP50": 1.0})])
    table = table2.table2_table(ours, paper, "small", "not run in profile small")
    floor = table[table.variant == "random_init"]
    assert len(floor) == 1 and table.index[-1] == floor.index[0]  # after the published and ours rows
    row = floor.iloc[0]
    assert (row.source, row.method, row.ours_arch, row.status) == ("ours", "simclr", "resnet_tiny", "floor: random init")
    assert row.n_seeds == 2 and row.det_voc_AP == 20.5 and row.seg_coco_AP50 == 1.5  # mean of seeds 0 and 1
    tex = table2.table2_latex(table, "small")
    ours_block = tex.split("Ours (profile small)")[1]
    assert r"Ours(SimCLR) & ResNet-tiny & \textbf{\underline{6.0}}" in ours_block  # not the floor's 20.5
    assert r"SimCLR random init & ResNet-tiny & 20.5 &" in ours_block
    # without floor rows nothing changes
    assert not (table2.table2_table(_ours({"AP": 5.0}), paper, "small", "x").variant == "random_init").any()


def test_a_method_the_paper_lacks_gets_beyond_the_paper_rows():
    """BYOL has no row in the paper's Table 2: its dense results are ours alone, marked as such."""
    paper = results.read_metrics(ROOT / "results" / "paper" / "table2_dense.csv")
    table = table2.table2_table(pd.concat([_ours({"AP": 5.0}), _ours({"AP": 7.0}, method="byol")]), paper, "tiny", "x")
    byol = table[table.method == "byol"]
    assert list(byol.variant) == ["baseline", "rescued"] and (byol.status == "beyond the paper").all()
    assert list(byol.det_voc_AP) == [7.0, 8.0] and (byol.source == "ours").all()
    assert "BYOL" in table2.table2_latex(table, "tiny") or "byol" in table2.table2_latex(table, "tiny")
