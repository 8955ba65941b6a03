"""Fig. 2 from metrics.csv-shaped frames: main runs only, intervals, floor/ceiling rows, bold only
where the paired interval excludes 0, labels that do not overlap."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.text import Annotation

from evaluations import fig2 as F2
from evaluations import results as R
from tests.conftest import ROOT

PARAMS = {"resnet_tiny": 0.30, "vit_tiny_test": 0.45,  # close sizes: labels of both clusters meet
          "vit_s_tiny": 0.21, "vit_b_tiny": 0.81}


def metrics(gains: dict, seeds=range(3), group="main", with_levels=True) -> pd.DataFrame:
    """A metrics table: per (method, arch) a baseline at 60 and a rescued run ``gain`` above it,
    per seed, their floor (random init) and the arch's ceiling (supervised)."""
    rows = []

    def add(run, method, arch, variant, seed, value, grp=group):
        for task, metric, v in (("linear", "top1", value), ("model", "params_M", PARAMS[arch])):
            rows.append({"run": run, "group": grp, "method": method, "arch": arch, "variant": variant,
                         "s": float("nan"), "k": float("nan"), "seed": seed, "task": task,
                         "dataset": "shapes" if task == "linear" else "", "metric": metric, "value": v})

    for (method, arch), gain in gains.items():
        for seed in seeds:
            noise = (-1) ** seed * 0.3 * seed
            add(f"{method}-{arch}-baseline-seed{seed}", method, arch, "baseline", seed, 60 + noise)
            add(f"{method}-{arch}-rescued-seed{seed}", method, arch, "rescued", seed, 60 + noise + gain[seed])
            if with_levels:
                add(f"{method}-{arch}-random_init-seed{seed}", method, arch, "random_init", seed, 20 + seed)
    if with_levels:
        for arch in {a for _, a in gains}:
            for seed in seeds:
                add(f"supervised-{arch}-seed{seed}", "supervised", arch, "supervised", seed, 95.0)
    return pd.DataFrame(rows)


@pytest.fixture
def paper():
    return R.read_metrics(ROOT / "results" / "paper" / "fig2_linear.csv")


def _ours_row(table, method, variant):
    return table[(table.method == method) & (table.variant == variant) & (table.ours_arch != "")].iloc[0]


def test_sweep_rows_stay_out_and_old_tables_fail_clearly(paper):
    ours = metrics({("simclr", "resnet_tiny"): [1, 1, 1]})
    sweep = ours.assign(group="sens", value=0.0, run=lambda d: d.run + "-sweep")
    table = F2.fig2_table(pd.concat([ours, sweep]), paper, "tiny")
    row = _ours_row(table, "simclr", "baseline")
    assert row.n_seeds == 3 and row.ours_top1 == pytest.approx(ours[(ours.variant == "baseline")
                                                                    & (ours.metric == "top1")].value.mean())
    with pytest.raises(ValueError, match="no 'group' column"):  # never read as all main: rerun aggregate
        F2.fig2_table(ours.drop(columns="group"), paper, "tiny")


def test_floor_and_ceiling_rows(paper):
    table = F2.fig2_table(metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), paper, "tiny")
    floor, ceiling = _ours_row(table, "simclr", "random_init"), _ours_row(table, "supervised", "supervised")
    assert (floor.ours_top1, floor.status) == (21.0, "floor: random init")
    assert (ceiling.ours_top1, ceiling.ours_arch, ceiling.status) == (95.0, "resnet_tiny", "ceiling: supervised")
    tex = F2.fig2_latex(table, "tiny")
    assert r"SimCLR random init & -- & random\_init & -- & ResNet-tiny & 21.0 $\pm$ 2.48" in tex
    assert r"Supervised & -- & supervised & -- & ResNet-tiny & 95.0 $\pm$ 0.00" in tex


def test_bold_only_where_the_paired_interval_excludes_zero(paper):
    # SimCLR: +1 on every seed (interval [1, 1]); MoCo v3: +1, -1, +2 (interval contains 0)
    ours = metrics({("simclr", "resnet_tiny"): [1, 1, 1], ("mocov3", "vit_tiny_test"): [1, -1, 2]})
    table = F2.fig2_table(ours, paper, "tiny")
    rescued = _ours_row(table, "mocov3", "rescued")
    assert rescued.gain_low < 0 < rescued.gain_high and rescued.gain_n == 3
    lines = {tuple(line.split(" & ")[:2]): line for line in F2.fig2_latex(table, "tiny").splitlines() if " & " in line}
    assert r"& \textbf{61.1 $\pm$ 1.14} & +1.0 $\pm$ 0.0 (n = 3)" in lines[("Ours(SimCLR)", "ResNet-50")]
    assert r"\textbf" not in lines[("SimCLR", "ResNet-50")].split(" & ", 4)[4]  # ours: the baseline is not bold
    assert r"\textbf" not in lines[("Ours(MoCo v3)", "ViT-S")].split(" & ", 4)[4]
    assert r"\textbf{73.1}" in lines[("Ours(MoCo v3)", "ViT-S")]  # the paper's own bold stays


def test_one_seed_is_never_bold_and_says_so(paper):
    table = F2.fig2_table(metrics({("simclr", "resnet_tiny"): [5]}, seeds=[0]), paper, "tiny")
    line = next(x for x in F2.fig2_latex(table, "tiny").splitlines() if x.startswith("Ours(SimCLR)"))
    assert "65.0 (n = 1)" in line and "+5.0 (n = 1)" in line and r"\textbf{65" not in line


def _label_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts
            if isinstance(t, Annotation) and t.get_text()]


@pytest.mark.parametrize("layout", ["tiny", "paper"])
def test_fig2_labels_do_not_overlap(paper, tmp_path, monkeypatch, layout):
    if layout == "tiny":  # three methods on two stand-ins of close size, near-equal accuracies
        ours = metrics({("simclr", "resnet_tiny"): [1, 1, 1], ("mocov3", "vit_tiny_test"): [1, 0, 1],
                        ("dinov2", "vit_tiny_test"): [0.5, 1, 1]})
    else:  # the paper's runs, reproduced with the published values
        ours = paper.assign(group="main", seed=0)
    figures = []
    monkeypatch.setattr(F2, "save_figure", lambda fig, stem: figures.append(fig))
    F2.fig2_figure(ours, paper, layout, tmp_path / "fig2")
    boxes = _label_boxes(figures[0])
    assert len(boxes) == 2 * 13 if layout == "paper" else len(boxes) > 13 + 5
    for (name_a, a), (name_b, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (name_a, name_b)
    plt.close(figures[0])


def test_collapsed_seeds_are_marked(paper):
    ours = metrics({("dinov2", "vit_tiny_test"): [1, 1, 1]})
    flag = ours[(ours.metric == "params_M") & (ours.variant.isin(["baseline", "rescued"]))].assign(
        task="pretrain", dataset="", metric="collapsed",
        value=lambda d: ((d.variant == "rescued") & (d.seed == 1)).astype(float))
    table = F2.fig2_table(pd.concat([ours, flag]), paper, "tiny")
    assert _ours_row(table, "dinov2", "rescued").n_collapsed == 1
    assert _ours_row(table, "dinov2", "baseline").n_collapsed == 0
    tex = F2.fig2_latex(table, "tiny")
    assert tex.count(r"$^\dagger$") == 2  # the rescued row's cell and its note
    assert "Ours(DINOv2): 1 of 3 seeds ended flagged collapsed" in tex
    assert r"$^\dagger$" not in F2.fig2_latex(F2.fig2_table(ours, paper, "tiny"), "tiny")


def test_declared_vit_stand_ins_fill_only_their_paper_row(paper):
    """vit_s_tiny stands in for MoCo v3's ViT-S, vit_b_tiny for its ViT-B (evaluations.arch_stand_ins.STAND_IN_FOR):
    each paper row gets its own stand-in's runs and gain, never the other's."""
    table = F2.fig2_table(metrics({("mocov3", "vit_s_tiny"): [1, 1, 1], ("mocov3", "vit_b_tiny"): [3, 3, 3]}),
                         paper, "small")
    for arch, ours, gain in (("vit_small", "vit_s_tiny", 1.0), ("vit_base", "vit_b_tiny", 3.0)):
        rows = table[(table.method == "mocov3") & (table.arch == arch) & (table.variant == "baseline")]
        assert rows.ours_arch.tolist() == [ours] and rows.status.tolist() == ["scaled-down stand-in"]
        assert rows.gain.iloc[0] == pytest.approx(gain)
    resnet = table[(table.method == "mocov3") & (table.arch == "resnet50")]
    assert (resnet.ours_arch == "").all()  # no ResNet run: a ViT never stands in for it in Fig. 2
