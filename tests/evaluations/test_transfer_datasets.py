"""The ten transfer loaders against miniature replicas of each dataset's real file layout, the
missing-dataset errors, and the generated stand-ins. Nothing is downloaded."""
from __future__ import annotations

import csv
import json
import re
import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluations.transfer import datasets as D
from evaluations.transfer.feature_cache import Preprocessing
from evaluations.transfer.standins import build_standins, long_tail_counts
from evaluations.transfer import replicas as R


@pytest.fixture(autouse=True)
def _md5(monkeypatch):
    R.bypass_md5(monkeypatch)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer_data")
    return root, R.make_all(root)


def _pairs(ds: D.TransferSplit) -> list[tuple[str, int]]:
    return list(zip(ds.ids, ds.targets))


def _read_all(ds: D.TransferSplit) -> None:
    """Decode every item: a wrong image path fails here."""
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.ndim == 3 and x.shape[0] == 3 and x.dtype == torch.float32
        if ds.multilabel:
            assert y.dtype == torch.float32 and y.shape == (20,)
        else:
            assert isinstance(y, int)


def test_registry_is_the_ten_datasets_with_the_paper_metrics():
    assert set(D.REGISTRY) == {"cifar10", "cifar100", "food101", "sun397", "dtd", "pets", "aircraft", "voc2007",
                               "flowers", "caltech101"}
    metrics = {n: s.metric for n, s in D.REGISTRY.items()}
    assert {n for n, m in metrics.items() if m == "top1"} == {"cifar10", "cifar100", "food101", "sun397", "dtd"}
    assert {n for n, m in metrics.items() if m == "mean_per_class"} == {"pets", "flowers", "caltech101", "aircraft"}
    assert {n for n, m in metrics.items() if m == "map11"} == {"voc2007"}
    assert [n for n, s in D.REGISTRY.items() if s.multilabel] == ["voc2007"]
    # the table of the paper uses exactly these (dataset, metric) pairs
    table = Path(__file__).resolve().parents[2] / "results" / "paper" / "table1_transfer.csv"
    if table.is_file():
        with open(table) as f:
            pairs = {(r["dataset"], r["metric"]) for r in csv.DictReader(f)}
        assert pairs == set(metrics.items())


# --------------------------------------------------------------------------- seeded hold-out val
@pytest.mark.parametrize("name, sizes, val_per_class", [
    ("cifar10", (90, 10, 7), 1),     # 10 per class, 10 %: one per class
    ("cifar100", (27, 3, 4), 1),
    ("food101", (27, 3, 6), 1),
    ("pets", (12, 3, 6), 1),         # 5 per breed, 20 %: one per breed
])
def test_holdout_val_datasets(data, name, sizes, val_per_class):
    root, manifests = data
    man = manifests[name]
    source = "trainval" if name == "pets" else "train"
    train, val, test = (D.load_split(name, root, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == sizes
    assert _pairs(test) == man["test"]  # official test, in file order, with its labels
    truth = dict(man[source])
    assert not set(train.ids) & set(val.ids)
    assert sorted(train.ids + val.ids) == sorted(truth)  # together: exactly the official train
    assert all(truth[i] == y for i, y in _pairs(train) + _pairs(val))
    assert set(Counter(val.targets).values()) == {val_per_class}  # stratified
    assert set(val.targets) == set(truth.values())
    trainval = D.load_split(name, root, "trainval")
    assert trainval.ids == train.ids + val.ids and trainval.targets == train.targets + val.targets
    # seeded: same seed same split, another seed another split; the fingerprint follows
    assert D.load_split(name, root, "val", seed=0).ids == val.ids
    other = D.load_split(name, root, "val", seed=1)
    assert other.ids != val.ids and other.fingerprint() != val.fingerprint()
    for ds in (train, val, test):
        _read_all(ds)


def test_cifar_reads_fine_labels_and_32px_images(data):
    root, _ = data
    x, y = D.load_split("cifar100", root, "test")[0]
    assert x.shape == (3, 32, 32) and y == 99


# --------------------------------------------------------------------------- official splits
@pytest.mark.parametrize("name, sizes", [
    ("dtd", (6, 3, 9)), ("aircraft", (4, 3, 5)), ("flowers", (4, 3, 5)),
])
def test_official_split_datasets(data, name, sizes):
    root, manifests = data
    splits = {s: D.load_split(name, root, s) for s in ("train", "val", "test")}
    assert tuple(len(d) for d in splits.values()) == sizes
    for s, ds in splits.items():
        assert _pairs(ds) == manifests[name][s], s
        _read_all(ds)


def test_dtd_uses_partition_1(data):
    root, _ = data
    train = D.load_split("dtd", root, "train")
    assert all(i.endswith(("_0001.jpg", "_0002.jpg")) for i in train.ids)  # partition 2 has _0004/_0005


def test_aircraft_reads_variant_level_names_with_spaces_and_slashes(data):
    root, _ = data
    test = D.load_split("aircraft", root, "test")
    base = test.segments[0].base
    assert base.classes == list(R.AIRCRAFT_VARIANTS)
    assert [base.classes[y] for y in test.targets] == ["A300B4", "A300B4", "F-16A/B", "707-320", "Cessna 172"]


def test_voc2007_multilabel_targets(data):
    root, manifests = data
    for split in ("train", "val", "test"):
        ds = D.load_split("voc2007", root, split)
        assert len(ds) == len(R.VOC_SPLITS[split])
        assert ds.ids == R.VOC_SPLITS[split]
        y = ds.targets
        assert y.shape == (len(ds), 20) and set(y.unique().tolist()) <= {0.0, 1.0}
        expected = [sorted(np.flatnonzero(row.numpy()).tolist()) for row in y]
        assert expected == [labels for _, labels in manifests["voc2007"][split]]
        for i in range(len(ds)):  # the item's target is the same vector
            assert torch.equal(ds[i][1], y[i])
        _read_all(ds)
    val = D.load_split("voc2007", root, "val")
    idx = D.VOC_CLASSES.index
    # 000005: two chairs count once; the difficult-only dining table counts as present
    assert val.targets[0].sum() == 2 and val.targets[0][idx("chair")] == 1 and val.targets[0][idx("diningtable")] == 1
    assert val.targets[1].tolist() == [float(c == "car") for c in D.VOC_CLASSES]  # single-object XML


def test_sun397_seeded_split_without_partition_files(data):
    root, manifests = data
    truth = dict(manifests["sun397"]["all"])
    with pytest.warns(UserWarning, match="no official partition"):
        splits = {s: D.load_split("sun397", root, s) for s in ("train", "val", "test")}
    # 6 images per class: min(50, 6 // 2) = 3 to train+val (1 of them val), the other 3 to test
    assert {s: Counter(d.targets) for s, d in splits.items()} == {
        "train": Counter({0: 2, 1: 2, 2: 2}), "val": Counter({0: 1, 1: 1, 2: 1}), "test": Counter({0: 3, 1: 3, 2: 3})}
    all_ids = [i for d in splits.values() for i in d.ids]
    assert sorted(all_ids) == sorted(truth) and len(set(all_ids)) == len(all_ids)
    for d in splits.values():
        assert all(truth[i] == y for i, y in _pairs(d))  # nested class "apartment_building/outdoor" included
        assert d.ids == sorted(d.ids)  # canonical order, not the filesystem's
        assert d.source.startswith("SUN397 seeded")
        _read_all(d)


def test_sun397_official_partition_when_present(tmp_path):
    man = R.make_sun397(tmp_path, with_partitions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        train, val, test = (D.load_split("sun397", tmp_path, s) for s in ("train", "val", "test"))
    assert sorted(_pairs(test)) == sorted(man["partition1_test"])
    assert sorted(_pairs(train) + _pairs(val)) == sorted(man["partition1_train"])
    assert (len(train), len(val), len(test)) == (9, 3, 6)  # 4 per class -> round(0.8) -> 1 val
    assert test.source.startswith("SUN397 official partition 1")


def test_caltech101_30_per_class_rest_test(data):
    root, manifests = data
    truth = dict(manifests["caltech101"]["all"])
    train, val, test = (D.load_split("caltech101", root, s) for s in ("train", "val", "test"))
    assert not any("BACKGROUND_Google" in i for i in train.ids + val.ids + test.ids)
    assert Counter(train.targets) == Counter({0: 25, 1: 25, 2: 25})
    assert Counter(val.targets) == Counter({0: 5, 1: 5, 2: 5})
    assert Counter(test.targets) == Counter({0: 31 - 30, 1: 33 - 30, 2: 32 - 30})
    all_ids = train.ids + val.ids + test.ids
    assert sorted(all_ids) == sorted(truth) and len(set(all_ids)) == len(all_ids)
    assert all(truth[i] == y for d in (train, val, test) for i, y in _pairs(d))
    assert D.load_split("caltech101", root, "test", seed=1).ids != test.ids
    for d in (train, val, test):
        _read_all(d)  # "accordion" is greyscale on disk and comes out with 3 channels


def test_caltech101_class_too_small_for_30_training_images(tmp_path):
    R.make_caltech101(tmp_path)
    (tmp_path / "caltech101" / "101_ObjectCategories" / "Faces" / "image_0031.jpg").unlink()
    with pytest.raises(ValueError, match="needs more than 30"):
        D.load_split("caltech101", tmp_path, "train")


def test_transform_is_applied(data):
    root, _ = data
    x, _ = D.load_split("dtd", root, "val", Preprocessing(size=6, resize=7).transform())[0]
    assert x.shape == (3, 6, 6)


# --------------------------------------------------------------------------- missing data
@pytest.mark.parametrize("name", sorted(D.REGISTRY))
def test_missing_dataset_names_the_expected_path(tmp_path, name):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(FileNotFoundError) as err:
        D.load_split(name, root, "test")
    message = str(err.value)
    assert str(root / D.REGISTRY[name].required[0]) in message
    assert "download" in message and "Nothing is downloaded" in message
    assert list(root.iterdir()) == []  # nothing created (torchvision's Caltech101 would mkdir)


def test_partially_missing_dataset_names_the_missing_file(tmp_path):
    R.make_voc2007(tmp_path)
    missing = tmp_path / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "test.txt"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        D.load_split("voc2007", tmp_path, "train")


def test_unknown_dataset_and_split(data):
    root, _ = data
    with pytest.raises(KeyError):
        D.load_split("imagenet", root, "train")
    with pytest.raises(ValueError):
        D.load_split("dtd", root, "validation")


# --------------------------------------------------------------------------- stand-ins
THREE = ("shapes_top1", "shapes_mpc", "shapes_multilabel")  # the ten of the paper's sets: test_transfer_paper_standins


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    root = tmp_path_factory.mktemp("standins")
    build_standins(root, n_train=24, n_val=16, n_test=16, image_size=16, n_classes=4, names=THREE)
    return root


def test_standins_metrics_and_layout(standins):
    assert {n: s.metric for n, s in D.STANDINS.items() if not s.stands_for} == {
        "shapes_top1": "top1", "shapes_mpc": "mean_per_class", "shapes_multilabel": "map11"}
    for name in THREE:
        sizes = {s: len(D.load_split(name, standins, s)) for s in D.SPLITS}
        assert sizes == {"train": 24, "val": 16, "trainval": 40, "test": 16}
    top1 = D.load_split("shapes_top1", standins, "train")
    assert Counter(top1.targets) == Counter({c: 6 for c in range(4)})
    mpc = D.load_split("shapes_mpc", standins, "train")
    counts = [Counter(mpc.targets)[c] for c in range(4)]
    assert counts == long_tail_counts(24, 4, 0.7) and counts == sorted(counts, reverse=True) and counts[-1] >= 1
    x, y = top1[0]
    assert x.shape == (3, 16, 16) and isinstance(y, int)


def test_multilabel_standin_labels_are_the_shapes_drawn(standins):
    ds = D.load_split("shapes_multilabel", standins, "train")
    y = ds.targets
    assert y.shape == (24, 4)
    assert all(y[i, i % 4] == 1 for i in range(24))  # the main shape is always a label
    assert (y.sum(1) >= 1).all() and (y.sum(1) <= 3).all() and (y.sum(1) > 1).any()  # + 0-2 distractors
    with open(standins / "shapes_multilabel" / "train" / "labels.csv") as f:
        assert next(csv.reader(f)) == ["file", "circle", "cross", "diamond", "hexagon"]
    assert torch.equal(ds[3][1], y[3])


def test_standins_rebuild_is_a_no_op_and_missing_standin_is_reported(standins, tmp_path):
    stamp = (standins / "shapes_top1" / "meta.json").stat().st_mtime_ns
    build_standins(standins, n_train=24, n_val=16, n_test=16, image_size=16, n_classes=4, names=THREE)
    assert (standins / "shapes_top1" / "meta.json").stat().st_mtime_ns == stamp
    assert json.loads((standins / "shapes_mpc" / "meta.json").read_text())["metric"] == "mean_per_class"
    with pytest.raises(FileExistsError):
        build_standins(standins, n_train=25, n_val=16, n_test=16, image_size=16, n_classes=4, names=THREE)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "shapes_multilabel" / "train" / "labels.csv"))):
        D.load_split("shapes_multilabel", tmp_path, "train")
    shutil.rmtree(tmp_path, ignore_errors=True)
