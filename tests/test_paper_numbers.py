"""Shape and consistency of the published numbers transcribed under results/paper/.

The values themselves are checked by people against the paper; these tests check that every
table is complete, that the ids follow one convention and that the files agree with each other
(and with the few relations the paper states in its text)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PAPER = Path(__file__).resolve().parents[1] / "results" / "paper"
COLUMNS = ["run", "method", "arch", "variant", "s", "k", "seed", "task", "dataset", "metric", "value"]
KEY = ["run", "task", "dataset", "metric"]
META = ["method", "arch", "variant", "s", "k", "seed"]
FILES = ["fig2_linear.csv", "table1_transfer.csv", "table2_dense.csv", "sensitivity_best.csv",
         "cosine_study.csv", "text_claims.csv"]
METHODS = {"simclr", "mocov3", "dinov2", "barlowtwins", "mugs", "maect"}
RESCUABLE = {"simclr", "mocov3", "dinov2"}
ARCHS = {"resnet50", "vit_small", "vit_base", "vit_large", "vit_huge"}
PERCENT = {"top1", "mean_per_class", "map11", "AP", "AP50", "AP75", "top1_gain_vs_baseline", "top1_std"}
IN1K = "imagenet1k"  # the id evaluations/__main__.py writes for ImageNet-1K
# Table 1: the Kornblith et al. (2019) metric of each transfer dataset.
TRANSFER_METRIC = {"cifar10": "top1", "cifar100": "top1", "food101": "top1", "sun397": "top1", "dtd": "top1",
                   "pets": "mean_per_class", "aircraft": "mean_per_class", "flowers": "mean_per_class",
                   "caltech101": "mean_per_class", "voc2007": "map11"}
# Table 2 columns: (task, dataset) x metric.
DENSE = {("det_voc", "voc0712"), ("det_coco", "coco"), ("seg_coco", "coco")}
# Backbones of Tables 1/2 as stated in Sec. 4.2 / Fig. 4 (SimCLR R50, MoCo v3 ViT-B, DINOv2 ViT-L).
TRANSFER_ARCH = {"simclr": "resnet50", "mocov3": "vit_base", "dinov2": "vit_large"}


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(PAPER / name, dtype=str, keep_default_na=False)


def num(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(value=df.value.astype(float))


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {name: read(name) for name in FILES}


def test_every_file_is_present_and_documented():
    readme = (PAPER / "README.md").read_text()
    for name in FILES:
        assert (PAPER / name).is_file(), name
        assert name in readme, f"{name} has no section in results/paper/README.md"
    assert sorted(p.name for p in PAPER.glob("*.csv")) == sorted(FILES), "an undocumented CSV in results/paper"


@pytest.mark.parametrize("name", FILES)
def test_columns_ids_and_values(name):
    df = read(name)
    assert list(df.columns) == COLUMNS
    assert len(df) > 0
    assert not df.duplicated(KEY).any(), df[df.duplicated(KEY, keep=False)]
    assert df.run.str.match(r"^paper-[a-z0-9_.-]+$").all()
    # cosine_study is the only study the paper runs on a network of unstated training method
    allowed_methods = METHODS | ({""} if name == "cosine_study.csv" else set())
    assert set(df.method) <= allowed_methods, set(df.method) - allowed_methods
    assert set(df.arch) <= ARCHS, set(df.arch) - ARCHS
    assert set(df.variant) <= {"baseline", "rescued"}
    assert (df.seed == "").all(), "the paper gives no seeds"
    assert (df.value != "").all()
    values = pd.to_numeric(df.value, errors="raise")  # every value is a number as printed
    assert values.notna().all()
    # one set of metadata per run within the file
    assert (df.groupby("run")[META].nunique() == 1).all().all()
    # only the three methods the paper adapts have rescued models
    assert set(df[df.variant == "rescued"].method) <= RESCUABLE


@pytest.mark.parametrize("name", FILES)
def test_rescued_rows_have_s_and_k_baselines_do_not(name):
    df = read(name)
    rescued, baseline = df[df.variant == "rescued"], df[df.variant == "baseline"]
    assert (rescued.s != "").all() and (rescued.k != "").all()
    assert (rescued.s.astype(float) > 0).all()
    k = rescued.k.astype(float)
    assert ((k > 0) & (k == k.round())).all()
    assert (baseline.s == "").all() and (baseline.k == "").all()


@pytest.mark.parametrize("name", FILES)
def test_values_in_plausible_ranges(name):
    df = num(read(name))
    for r in df.itertuples():
        if r.metric in PERCENT:
            lo = -100 if r.metric == "top1_gain_vs_baseline" else 0
            assert lo <= r.value <= 100, r
        elif r.metric == "params_M":
            assert 1 < r.value < 10_000, r
        elif r.metric == "mean_cosine":
            assert -1 <= r.value <= 1, r
        elif r.metric in ("best_s",):
            assert r.value > 0, r
        elif r.metric in ("best_k", "n_seeds"):
            assert r.value >= 1 and r.value == int(r.value), r
        else:
            pytest.fail(f"metric {r.metric!r} has no plausibility range in this test")
    std = df[df.metric == "top1_std"]
    assert (std.value < 5).all()


def test_same_run_id_same_metadata_across_files(tables):
    allrows = pd.concat(tables.values(), ignore_index=True)
    assert not allrows.duplicated(KEY).any()
    assert (allrows.groupby("run")[META].nunique() == 1).all().all()
    # the run id spells out what it is (sensitivity/cosine runs have their own prefixes)
    models = allrows[~allrows.run.str.match(r"^paper-(sweep_|cosine-)")]
    expected = "paper-" + models.method + "-" + models.arch + "-" + models.variant
    assert (models.run == expected).all()


def test_rescued_rows_have_a_baseline_twin(tables):
    """Every rescued number has the baseline number of the same method/arch/task/dataset/metric."""
    for name in ("fig2_linear.csv", "table1_transfer.csv", "table2_dense.csv"):
        df = tables[name]
        cols = ["method", "arch", "task", "dataset", "metric"]
        base = set(map(tuple, df[df.variant == "baseline"][cols].values))
        resc = set(map(tuple, df[df.variant == "rescued"][cols].values))
        assert resc, name
        assert resc <= base, (name, resc - base)
        if name != "fig2_linear.csv":  # Tables 1/2 hold exactly baseline/rescued pairs
            assert base == resc, (name, base ^ resc)


def test_fig2(tables):
    df = num(tables["fig2_linear.csv"])
    top1 = df[(df.task == "linear") & (df.metric == "top1")]
    assert len(top1) == 13 and top1.run.is_unique
    assert (top1.dataset == IN1K).all()
    runs = set(df.run)
    assert set(top1.run) == runs
    params = df[df.metric == "params_M"]
    assert set(params.run) == runs and len(params) == len(runs)
    assert (params.task == "model").all() and (params.dataset == "").all()
    assert (params.groupby("arch").value.nunique() == 1).all(), "one parameter count per architecture"
    order = params.groupby("arch").value.first()
    assert order["vit_small"] < order["resnet50"] < order["vit_base"] < order["vit_large"] < order["vit_huge"]
    assert set(top1.method) == METHODS
    assert sorted(top1.variant.value_counts().items()) == [("baseline", 8), ("rescued", 5)]
    # DINOv2 (both variants) is the mean of three seeds with a std; nothing else has one
    std = df[df.metric == "top1_std"]
    assert set(std.run) == set(df[df.metric == "n_seeds"].run) == set(top1[top1.method == "dinov2"].run)
    assert (std.task == "linear").all() and (std.dataset == IN1K).all()
    assert set(df.metric) == {"top1", "top1_std", "n_seeds", "params_M"}
    # Sec. 4.1 / Fig. 2: "Our methods boost all the base SSL algorithms we tested."
    piv = top1.pivot_table(index=["method", "arch"], columns="variant", values="value").dropna()
    assert len(piv) == 5
    assert (piv.rescued >= piv.baseline).all(), piv


def test_table1(tables):
    df = tables["table1_transfer.csv"]
    assert len(df) == 60
    assert (df.task == "transfer_linear").all()
    assert df.run.nunique() == 6
    assert sorted(df.groupby(["method", "variant"]).size().items()) == \
        [((m, v), 10) for m in sorted(RESCUABLE) for v in ("baseline", "rescued")]
    for run, g in df.groupby("run"):
        assert sorted(g.dataset) == sorted(TRANSFER_METRIC), run
    assert (df.metric == df.dataset.map(TRANSFER_METRIC)).all()
    assert (df.arch == df.method.map(TRANSFER_ARCH)).all()
    # the same models as in Fig. 2
    assert set(df.run) <= set(tables["fig2_linear.csv"].run)


def test_table2(tables):
    df = tables["table2_dense.csv"]
    assert len(df) == 6 * 9
    assert df.run.nunique() == 6
    assert set(zip(df.task, df.dataset)) == DENSE
    for run, g in df.groupby("run"):
        cells = sorted(zip(g.task, g.dataset, g.metric))
        assert cells == sorted((t, d, m) for t, d in DENSE for m in ("AP", "AP50", "AP75")), run
    assert sorted(df.groupby(["method", "variant"]).size().items()) == \
        [((m, v), 9) for m in sorted(RESCUABLE) for v in ("baseline", "rescued")]
    assert set(df.run) == set(tables["table1_transfer.csv"].run)


def test_sensitivity(tables):
    df = tables["sensitivity_best.csv"]
    assert (df.task == "sensitivity").all() and (df.dataset == IN1K).all()
    assert (df.variant == "rescued").all()
    assert set(df.metric) == {"best_s", "best_k"}
    for metric in ("best_s", "best_k"):
        assert set(df[df.metric == metric].method) == RESCUABLE, metric
    # s and k columns are the configuration of the best point of the sweep: its value is the column
    best_s, best_k = df[df.metric == "best_s"], df[df.metric == "best_k"]
    assert (best_s.s.astype(float) == best_s.value.astype(float)).all()
    assert (best_k.k.astype(float) == best_k.value.astype(float)).all()
    assert best_s.run.str.startswith("paper-sweep_s-").all()
    assert best_k.run.str.startswith("paper-sweep_k-").all()
    assert (df.run == df.run.str.extract(r"^(paper-sweep_[sk]-)")[0] + df.method + "-" + df.arch).all()
    # the k sweep runs at the best s of the s sweep of the same method/arch
    s_of = best_s.set_index(["method", "arch"]).s
    for r in best_k.itertuples():
        assert s_of[(r.method, r.arch)] == r.s, r


def test_cosine_study(tables):
    df = tables["cosine_study.csv"]
    assert sorted(df.run) == ["paper-cosine-common", "paper-cosine-strong"]
    assert (df.task == "cosine_study").all() and (df.metric == "mean_cosine").all()
    assert df.arch.nunique() == 1 and df.dataset.nunique() == 1
    v = num(df).set_index("run").value
    # Sec. 3: strong views are more diverse (lower similarity) than common views
    assert v["paper-cosine-strong"] < v["paper-cosine-common"]


def test_text_claims_match_fig2(tables):
    """Sec. 4.1 states the gains over the baselines; they are the differences of Fig. 2's values."""
    claims = num(tables["text_claims.csv"])
    assert (claims.metric == "top1_gain_vs_baseline").all() and (claims.variant == "rescued").all()
    fig2 = num(tables["fig2_linear.csv"])
    top1 = fig2[fig2.metric == "top1"].set_index(["method", "arch", "variant"]).value
    for r in claims.itertuples():
        assert r.run in set(fig2.run)
        assert r.task == "linear" and r.dataset == IN1K
        gain = top1[(r.method, r.arch, "rescued")] - top1[(r.method, r.arch, "baseline")]
        assert round(gain, 1) == pytest.approx(r.value), r
