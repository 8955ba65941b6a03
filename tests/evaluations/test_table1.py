"""Table 1 / Fig. 4 from metrics.csv-shaped frames: matching, deltas, bold/underline, radar scale."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from evaluations import fig2 as F2
from evaluations import results as R
from evaluations import table1 as T1
from evaluations.transfer.datasets import REGISTRY, STANDINS
from evaluations.transfer.logistic import DEFAULT_C_GRID, log_grid
from tests.conftest import ROOT


def _row(method, arch, variant, dataset, metric, value, run=None):
    return {"run": run or f"{method}-{arch}-{variant}", "group": "main", "method": method, "arch": arch, "variant": variant,
            "s": float("nan"), "k": float("nan"), "seed": 0, "task": "transfer_linear", "dataset": dataset,
            "metric": metric, "value": value}


@pytest.fixture
def paper():
    values = {  # (method, arch, variant): (dtd top-1, pets mean per-class)
        ("simclr", "resnet50", "baseline"): (60.0, 80.0),
        ("simclr", "resnet50", "rescued"): (61.0, 79.0),
        ("mocov3", "vit_base", "baseline"): (70.0, 85.0),
        ("mocov3", "vit_base", "rescued"): (70.0, 90.0),  # a tie on dtd
    }
    return pd.DataFrame([_row(m, a, v, d, metric, x, run=f"paper-{m}-{a}-{v}")
                         for (m, a, v), xs in values.items()
                         for (d, metric), x in zip((("dtd", "top1"), ("pets", "mean_per_class")), xs)])


def test_scaled_down_profile_keeps_both_apart(paper):
    ours = pd.DataFrame([_row("simclr", "resnet_tiny", "baseline", "shapes_top1", "top1", 40.0),
                         _row("simclr", "resnet_tiny", "rescued", "shapes_top1", "top1", 50.0, run="r0"),
                         _row("simclr", "resnet_tiny", "rescued", "shapes_top1", "top1", 52.0, run="r1")])
    table = T1.table1_table(ours, paper, "tiny")
    assert list(dict.fromkeys(table.dataset)) == ["dtd", "pets", "shapes_top1"]
    assert len(table) == 4 * 3 and table.delta.isna().all()  # other datasets: nothing to subtract
    mine = table.dropna(subset=["ours"])
    assert set(mine.dataset) == {"shapes_top1"} and mine.published.isna().all()
    rescued = mine[mine.variant == "rescued"].iloc[0]
    assert (rescued.ours, rescued.n_seeds, rescued.ours_arch) == (51.0, 2, "resnet_tiny")
    assert rescued.ours_std == pytest.approx(math.sqrt(2))
    assert (mine.status == "scaled-down stand-in").all()
    assert (table[table.method == "mocov3"].status == "not run in profile tiny").all()
    assert table.loc[(table.method == "simclr") & (table.dataset == "dtd"), "published"].tolist() == [60.0, 61.0]

    tex = T1.table1_latex(table, "tiny")
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1 and "$\\Delta$" not in tex
    published, ours_block = tex.split(r"\emph{Ours, profile tiny}")
    assert "shapes" not in published and r"shapes\_top1" in ours_block and "DTD" not in ours_block
    lines = {line.split(" & ")[0]: line for line in ours_block.splitlines() if " & " in line}
    # ours: mean with its interval (n = 1: none); no pair of seeds, so no bold (the interval is undefined)
    assert r"\underline{51.00 $\pm$ 12.71}" in lines["Ours(SimCLR)"] and "40.00 (n = 1)" in lines["SimCLR"]
    assert r"\textbf" not in ours_block
    assert "not run in profile tiny" in lines["MoCo v3"] and "not run in profile tiny" in lines["Ours(MoCo v3)"]


def test_bold_is_better_of_pair_underline_best_overall(paper):
    table = T1.table1_table(paper.iloc[:0], paper, "x")
    lines = [line for line in T1.table1_latex(table, "x").split(r"\emph{Ours")[0].splitlines() if " & " in line]
    cells = {line.split(" & ")[0]: line.removesuffix(r" \\").split(" & ")[2:] for line in lines[2:]}
    assert cells["SimCLR"] == ["60.00", r"\textbf{80.00}"]
    assert cells["Ours(SimCLR)"] == [r"\textbf{61.00}", "79.00"]
    # a tie: both bold, both underlined (70 is the best DTD value of the table)
    assert cells["MoCo v3"] == [r"\textbf{\underline{70.00}}", "85.00"]
    assert cells["Ours(MoCo v3)"] == [r"\textbf{\underline{70.00}}", r"\textbf{\underline{90.00}}"]
    assert lines[1].split(" & ")[2:] == ["top-1", r"mean p.c. \\"]


def test_same_architecture_gets_a_delta_block(paper):
    ours = paper[paper.method == "simclr"].assign(value=lambda d: d.value + 0.5, run=lambda d: d.run.str[6:])
    table = T1.table1_table(ours, paper, "paper")
    simclr = table[table.method == "simclr"]
    assert (simclr.status == "same architecture").all() and simclr.delta.tolist() == [0.5] * 4
    assert table[table.method == "mocov3"].delta.isna().all()
    delta_block = T1.table1_latex(table, "paper").split(r"$\Delta$ = ours $-$ published")[1]
    rows = [line for line in delta_block.splitlines() if line.startswith(("SimCLR", "Ours(SimCLR)", "MoCo"))]
    assert rows == [r"SimCLR & ResNet-50 & +0.50 & +0.50 \\", r"Ours(SimCLR) & ResNet-50 & +0.50 & +0.50 \\"]


def test_radar_scale_brackets_values_with_equal_rings():
    values = pd.DataFrame({"a": [80.0, 82.0], "b": [50.0, 50.0], "c": [99.0, 99.9]}, index=["baseline", "rescued"])
    low, high = T1.radar_scale(values)
    assert (low < values.min()).all() and (high > values.max()).all() and (high <= 100).all() and (low >= 0).all()
    assert (low["a"], high["a"]) == (78.0, 82.5)  # range 2 widened by 2 below, 0.5 above
    assert (low["b"], high["b"]) == (49.5, 50.2)  # equal values: at least 0.5 points of scale
    assert list(T1.RADAR_RINGS) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_fig4_draws_published_alone_when_not_run(paper, tmp_path):
    table = T1.table1_table(paper.iloc[:0], paper, "tiny")
    for method in ("simclr", "dinov2"):  # dinov2: neither published here nor run
        T1.fig4_radar(table, method, "tiny", tmp_path / method)
        assert (tmp_path / f"{method}.png").stat().st_size > 1000 and (tmp_path / f"{method}.pdf").exists()
    first = (tmp_path / "simclr.pdf").read_bytes()
    T1.fig4_radar(table, "simclr", "tiny", tmp_path / "simclr")
    assert (tmp_path / "simclr.pdf").read_bytes() == first  # byte-stable


def test_configs_transfer_sections():
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["eval"]["transfer"]
    tiny = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["eval"]["transfer"]
    assert paper["datasets"] == list(REGISTRY) and (paper["image_size"], paper["resize"]) == (224, 224)
    grid = paper["grid"]
    assert log_grid(grid["min"], grid["max"], grid["num"]) == DEFAULT_C_GRID  # 45 values in [1e-6, 1e5]
    # App. B.5's "l2 regularisation parameter" on features as they are (docs/protocols.md)
    assert (grid["meaning"], paper["standardize"]) == ("l2_strength", False)
    assert tiny["datasets"] == [n for n in STANDINS if not STANDINS[n].stands_for]
    assert tiny["data_root"].startswith("results/tiny/")
    small = yaml.safe_load((ROOT / "config" / "small.yaml").read_text())["eval"]["transfer"]
    assert [STANDINS[n].stands_for for n in small["datasets"]] == list(REGISTRY)  # one stand-in per dataset
    # workflow/rules/common.smk tells generated stand-ins from real datasets by this prefix
    assert all(n.startswith("shapes_") for n in STANDINS) and not any(n.startswith("shapes_") for n in REGISTRY)


def test_transfer_config_typo_is_named():
    from ssl_core.config import ConfigError, validate_config

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["eval"]["transfer"]["grid"]["nums"] = 5
    with pytest.raises(ConfigError, match=r"eval\.transfer\.grid: unknown key\(s\) 'nums'"):
        validate_config(cfg)
    del cfg["eval"]["transfer"]["grid"]["nums"]
    cfg["eval"]["transfer"]["datasets"] = ["cifar10", "imagenet"]
    with pytest.raises(ConfigError, match=r"eval\.transfer\.datasets\.1"):
        validate_config(cfg)


def test_fig4_outside_the_paper_profile_draws_the_paired_gain(paper, tmp_path, monkeypatch):
    """Ours: one spoke per dataset with the gain and its interval, the method's own floor level."""
    rows = [_row("simclr", "resnet_tiny", variant, d, "top1", value + seed * (1 + (variant == "rescued")) + offset,
                 run=f"{variant}-{seed}") | {"seed": seed}
            for seed in range(3) for d, offset in (("a", 0), ("b", 1), ("c", 2))
            for variant, value in (("baseline", 50.0), ("rescued", 52.0), ("random_init", 20.0))]
    rows.append(_row("mocov3", "resnet_tiny", "random_init", "a", "top1", 5.0))  # another method's floor
    table = T1.table1_table(pd.DataFrame(rows), paper, "small")
    figures = []
    monkeypatch.setattr(T1, "save_figure", lambda fig, stem: figures.append(fig))
    T1.fig4_radar(table, "simclr", "small", tmp_path / "simclr")
    ax = figures[0].axes[-1]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "a (n = 3)\nbase 51.0 floor 21.0 ceil --"
    bars = [line for line in ax.get_lines() if len(line.get_xdata()) == 2]  # one interval per spoke
    assert len(bars) == 3
    rim = float(ax.get_title().rsplit("rim ", 1)[1].split()[0])
    low, high = sorted(bars[0].get_ydata() * 2 * rim - rim)  # back from radius to points
    gain = table[(table.variant == "rescued") & (table.dataset == "a")].iloc[0]
    assert (low, high) == pytest.approx((gain.gain_low, gain.gain_high), abs=0.05)  # the title rounds the rim


def test_method_run_on_the_other_family_stands_in(paper):
    """A scaled-down profile that runs MoCo v3 on the tiny ResNet only (tiny, small) fills the
    paper's MoCo v3 ViT-B rows with it; a method with runs of the paper's family uses those only."""
    ours = pd.DataFrame([_row("mocov3", "resnet_tiny", v, "shapes_top1", "top1", x)
                         for v, x in (("baseline", 40.0), ("rescued", 42.0))]
                        + [_row("simclr", "vit_tiny_test", "baseline", "shapes_top1", "top1", 30.0),
                           _row("simclr", "resnet_tiny", "baseline", "shapes_top1", "top1", 45.0)])
    table = T1.table1_table(ours, paper, "small").dropna(subset=["ours"])
    moco = table[table.method == "mocov3"].set_index("variant")
    assert (moco.arch == "vit_base").all() and (moco.ours_arch == "resnet_tiny").all()
    assert (moco.loc["baseline", "ours"], moco.loc["rescued", "ours"]) == (40.0, 42.0)
    assert (moco.status == "scaled-down stand-in").all()
    simclr = table[table.method == "simclr"]
    assert simclr.ours_arch.tolist() == ["resnet_tiny"] and simclr.ours.tolist() == [45.0]


def test_a_method_beyond_the_paper_has_its_own_rows_in_our_block_only(paper):
    """A method of the suite the paper does not have (BYOL): its pair in our block and Fig. 2's table,
    status "beyond the paper", nothing in the published block."""
    ours = pd.DataFrame([_row("byol", "resnet_tiny", "baseline", "shapes_top1", "top1", 40.0),
                         _row("byol", "resnet_tiny", "rescued", "shapes_top1", "top1", 45.0)])
    table = T1.table1_table(ours, paper, "tiny")
    beyond = table[table.method == "byol"]
    assert set(beyond.variant) == {"baseline", "rescued"} and (beyond.status == R.BEYOND).all()
    assert beyond.published.isna().all() and beyond.ours.tolist() == [40.0, 45.0]
    published, ours_block = T1.table1_latex(table, "tiny").split(r"\emph{Ours, profile tiny}")
    assert "BYOL" not in published and "Ours(BYOL)" in ours_block and "45.00" in ours_block

    linear = ours.assign(task="linear", dataset="shapes", metric="top1")
    fig2 = F2.fig2_table(linear, R.read_metrics(ROOT / "results" / "paper" / "fig2_linear.csv"), "tiny")
    rows = fig2[fig2.method == "byol"]
    assert rows.status.tolist() == [R.BEYOND, R.BEYOND] and rows.ours_top1.tolist() == [40.0, 45.0]
    assert "Ours(BYOL)" in F2.fig2_latex(fig2, "tiny")


def test_fig4_with_only_a_floor_of_ours_says_not_run(paper, tmp_path):
    """A method whose trained runs answer no paper row (MoCo v3 run only on the ViT-S stand-in, where
    Table 1 reads ViT-B) but whose floor has transfer rows: the panel says "not run", no crash."""
    rows = [_row("mocov3", "vit_s_tiny", "random_init", d, "top1", 20.0) for d in ("a", "b", "c")]
    table = T1.table1_table(pd.DataFrame(rows), paper, "small")
    assert table[(table.method == "mocov3") & table.ours.notna()].variant.eq("random_init").all()
    T1.fig4_radar(table, "mocov3", "small", tmp_path / "mocov3")
    assert (tmp_path / "mocov3.png").stat().st_size > 1000
    # baselines without a rescued run (a partial profile): no gain to draw, the panel says so
    rows = [_row("simclr", "resnet_tiny", "baseline", d, "top1", 50.0) for d in ("a", "b", "c")]
    T1.fig4_radar(T1.table1_table(pd.DataFrame(rows), paper, "small"), "simclr", "small", tmp_path / "simclr")
    assert (tmp_path / "simclr.png").stat().st_size > 1000
