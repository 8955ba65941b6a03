"""The ten stand-ins of the paper's transfer datasets: metrics, sizes, layout, determinism, and
their rows in Table 1 and the claims table under the paper dataset's name."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from evaluations import results as R
from evaluations import table1 as T1
from evaluations.__main__ import main
from evaluations.claims import claims_table
from evaluations.transfer import datasets as D
from evaluations.transfer.paper_standins import RECIPES, worst_case_se
from evaluations.transfer.standins import build_standins
from tests.conftest import ROOT

PAPER_STANDINS = tuple(n for n in D.STANDINS if D.STANDINS[n].stands_for)
SCALE = 0.02  # one image per class and split (at least one): the layout, not the levels


def test_one_standin_per_paper_dataset_with_its_metric():
    assert [D.STANDINS[n].stands_for for n in PAPER_STANDINS] == list(D.REGISTRY)
    for name in PAPER_STANDINS:
        paper = D.REGISTRY[D.stands_for(name)]
        assert (D.metric_of(name), D.STANDINS[name].multilabel) == (paper.metric, paper.multilabel)
    assert D.stands_for("shapes_top1") == "shapes_top1" and D.stands_for("dtd") == "dtd"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_test_sets_give_one_run_a_standard_error_of_at_most_one_point(name):
    assert worst_case_se(RECIPES[name]) <= 1.0
    assert worst_case_se(RECIPES[name], 0.25) > 1.0  # the bound does depend on the size


def test_what_makes_each_dataset_distinct():
    n = {d: len(r.classes) for d, r in RECIPES.items()}
    assert n["cifar100"] >= 3 * n["cifar10"]  # many classes
    assert RECIPES["flowers"].per_class[0] < RECIPES["pets"].per_class[0]  # few-shot
    caltech = RECIPES["caltech101"]
    test = caltech.counts("test")
    assert test[0] >= 4 * test[-1] and test == sorted(test, reverse=True)  # long tail, test only
    assert caltech.counts("train") == [25] * len(caltech.classes) and caltech.counts("val") == [5] * len(caltech.classes)
    assert RECIPES["voc2007"].multilabel and not any(r.multilabel for d, r in RECIPES.items() if d != "voc2007")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper_standins")
    build_standins(root, image_size=32, paper_scale=SCALE, names=PAPER_STANDINS)
    return root


def test_layout_counts_and_targets(built):
    for name in PAPER_STANDINS:
        recipe = RECIPES[D.stands_for(name)]
        meta = json.loads((built / name / "meta.json").read_text())
        assert meta["stands_for"] == recipe.stands_for and meta["classes"] == list(recipe.classes)
        for split in ("train", "val", "test"):
            ds = D.load_split(name, built, split)
            assert len(ds) == sum(recipe.counts(split, SCALE)) == sum(meta["counts"][split])
            image, target = ds[0]
            assert tuple(image.shape) == (3, 32, 32)
            if recipe.multilabel:
                targets = np.stack([ds[i][1].numpy() for i in range(len(ds))])
                assert targets.shape[1] == len(recipe.classes) and (targets.sum(1) >= 1).all()
            else:
                assert sorted({ds[i][1] for i in range(len(ds))}) == list(range(len(recipe.classes)))


def test_voc_standin_labels_every_class_drawn(built):
    targets = np.stack([t.numpy() for _, t in D.load_split("shapes_voc2007", built, "trainval")])
    assert targets.sum(1).max() >= 2  # scenes with several labels


def _digest(root, name):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted((root / name).rglob("*.png")))).hexdigest()


def test_same_arguments_same_bytes_and_no_pretraining_image(built, tmp_path):
    build_standins(tmp_path, image_size=32, paper_scale=SCALE, names=("shapes_cifar10", "shapes_dtd"))
    assert _digest(tmp_path, "shapes_cifar10") == _digest(built, "shapes_cifar10")
    assert _digest(tmp_path, "shapes_dtd") == _digest(built, "shapes_dtd")
    other = tmp_path / "seed1"
    build_standins(other, image_size=32, seed=1, paper_scale=SCALE, names=("shapes_cifar10",))
    assert _digest(other, "shapes_cifar10") != _digest(built, "shapes_cifar10")


def _row(variant, dataset, metric, value, seed):
    return {"run": f"simclr-resnet_tiny-{variant}-seed{seed}", "group": "main", "method": "simclr",
            "arch": "resnet_tiny", "variant": variant, "s": float("nan"), "k": float("nan"), "seed": seed,
            "task": "transfer_linear", "dataset": dataset, "metric": metric, "value": value}


def _ours(gain: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame([_row(v, n, D.metric_of(n), 40.0 + seed + gain * (v == "rescued"), seed)
                         for n in PAPER_STANDINS for v in ("baseline", "rescued") for seed in range(3)])


def test_table1_reports_a_standin_under_its_paper_dataset():
    paper = R.read_metrics(ROOT / "results" / "paper" / "table1_transfer.csv")
    table = T1.table1_table(_ours(), paper, "small")
    mine = table[(table.method == "simclr") & table.ours.notna()]
    assert set(mine.dataset) == set(D.REGISTRY) and (mine.ours_dataset == "shapes_" + mine.dataset).all()
    assert mine.published.notna().all() and mine.delta.isna().all()  # resnet_tiny is not ResNet-50
    assert mine[mine.variant == "rescued"].gain.tolist() == pytest.approx([2.0] * 10)
    ours_block = T1.table1_latex(table, "small").split(r"\emph{Ours, profile small}")[1]
    assert "Cifar10 (stand-in)" in ours_block and "VOC2007 (stand-in)" in ours_block and "shapes" not in ours_block


def test_fig4_spokes_are_the_paper_datasets_marked(tmp_path, monkeypatch):
    paper = R.read_metrics(ROOT / "results" / "paper" / "table1_transfer.csv")
    table = T1.table1_table(_ours(), paper, "small")
    labels = []
    monkeypatch.setattr(T1, "save_figure", lambda fig, stem: labels.extend(
        t.get_text() for ax in fig.axes for t in ax.get_xticklabels()))
    T1.fig4_radar(table, "simclr", "small", tmp_path / "simclr")
    ours = [label for label in labels if "(n = 3)" in label]
    assert len(ours) == 10 and all("(stand-in)" in label for label in ours)
    assert any(label.startswith("Caltech101 (stand-in)") for label in ours)


def test_claims_get_a_row_per_transfer_dataset(tmp_path):
    path = tmp_path / "metrics.csv"
    _ours().to_csv(path, index=False)
    main(["claims", "--metrics", str(path), "--paper-dir", str(ROOT / "results" / "paper"), "--profile", "small",
          "--table", str(tmp_path / "claims")])
    table = pd.read_csv(tmp_path / "claims.csv")
    simclr = table[table.claim.str.startswith("SimCLR ResNet-50: transfer gain on")]
    assert len(simclr) == 10 and (simclr.ours_n == 3).all() and (simclr.verdict != "not run").all()
    count = table[table.claim.str.startswith("SimCLR ResNet-50: rescued beats baseline")].iloc[0]
    assert count.ours_mean == "10 of 10"
    # the command maps stand-ins; the table itself, given raw names, matches nothing
    paper = {n: R.read_metrics(ROOT / "results" / "paper" / f"{n}.csv") for n in (
        "fig2_linear", "text_claims", "table1_transfer", "table2_dense", "sensitivity_best", "cosine_study")}
    raw = claims_table(_ours(), paper, [])
    assert (raw[raw.claim.str.startswith("SimCLR ResNet-50: transfer gain on")].verdict == "not run").all()


def test_a_run_on_both_a_dataset_and_its_standin_is_an_error():
    both = pd.concat([_ours(), _ours().assign(dataset="cifar10")])
    with pytest.raises(ValueError, match="both cifar10 and its stand-in shapes_cifar10"):
        R.as_paper_datasets(both)
