"""Feature cache: a second extraction runs no forward pass; the key follows the checkpoint bytes,
the preprocessing and the split; files are written atomically. Plus one end-to-end run."""
from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from evaluations.transfer import feature_cache as F
from evaluations.transfer.datasets import load_split
from evaluations.transfer.evaluate import evaluate_transfer
from evaluations.transfer.standins import GENERIC_STANDINS, build_standins
from evaluations.transfer import replicas as R

SMALL = F.Preprocessing(size=8, resize=8)


class Counting(nn.Module):
    """[B, 3, H, W] -> [B, 5], counting forward calls."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.proj = nn.Linear(6, 5)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.proj(torch.cat([x.mean((2, 3)), x.std((2, 3))], 1))


@pytest.fixture
def setup(tmp_path):
    R.make_dtd(tmp_path / "data")
    net = Counting()
    ckpt = tmp_path / "ckpt.pt"
    torch.save(net.state_dict(), ckpt)
    return tmp_path / "data", tmp_path / "cache", net, ckpt


def _get(net, ckpt, data, cache, split="train", pre=SMALL, dataset="dtd"):
    return F.cached_features(net, ckpt, dataset, split, data_root=data, cache_dir=cache, preprocessing=pre,
                             batch_size=4)


def test_second_extraction_hits_the_cache(setup):
    data, cache, net, ckpt = setup
    first = _get(net, ckpt, data, cache)
    assert not first["cache_hit"] and net.calls == 2  # 6 images, batches of 4
    assert first["features"].shape == (6, 5) and first["targets"].tolist() == [0, 0, 1, 1, 2, 2]
    net.calls = 0
    again = _get(net, ckpt, data, cache)
    assert again["cache_hit"] and net.calls == 0
    assert torch.equal(again["features"], first["features"]) and torch.equal(again["targets"], first["targets"])
    assert again["path"] == first["path"] and os.path.basename(first["path"]).startswith("train-")
    files = sorted(p.name for p in (cache / "dtd").iterdir())
    assert len(files) == 1 and not any(".tmp" in f for f in files)  # no temporary left behind


def test_key_changes_with_checkpoint_bytes_not_with_rewrite(setup):
    data, cache, net, ckpt = setup
    first = _get(net, ckpt, data, cache)
    # same bytes written again (new mtime): content hash unchanged -> same key, cache hit
    ckpt.write_bytes(ckpt.read_bytes())
    os.utime(ckpt, ns=(1, 1))
    net.calls = 0
    assert _get(net, ckpt, data, cache)["cache_hit"] and net.calls == 0
    # other weights: new bytes -> new key -> extracted again
    torch.save(Counting(seed=1).state_dict(), ckpt)
    os.utime(ckpt, ns=(2, 2))
    second = _get(net, ckpt, data, cache)
    assert not second["cache_hit"] and net.calls > 0 and second["path"] != first["path"]


def test_key_changes_with_preprocessing_and_split(setup):
    data, cache, net, ckpt = setup
    base = _get(net, ckpt, data, cache)["path"]
    for pre in (F.Preprocessing(size=6, resize=8), F.Preprocessing(size=8, resize=10),
                F.Preprocessing(size=8, resize=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))):
        net.calls = 0
        out = _get(net, ckpt, data, cache, pre=pre)
        assert not out["cache_hit"] and net.calls > 0 and out["path"] != base
    assert _get(net, ckpt, data, cache, split="val")["path"] != base
    digest = F.checkpoint_sha256(ckpt)
    ds = load_split("dtd", data, "train")
    key = F.cache_key(digest, "dtd", "train", SMALL, ds.fingerprint())
    assert key != F.cache_key(digest, "dtd", "train", SMALL, load_split("dtd", data, "val").fingerprint())
    assert key != F.cache_key("0" * 64, "dtd", "train", SMALL, ds.fingerprint())
    assert key == F.cache_key(digest, "dtd", "train", F.Preprocessing(size=8), ds.fingerprint())  # resize None = size


def test_failed_write_leaves_no_file(setup, monkeypatch):
    data, cache, net, ckpt = setup

    def broken_save(obj, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(F.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _get(net, ckpt, data, cache)
    assert list((cache / "dtd").iterdir()) == []


def test_paper_preprocessing_is_the_protocol():
    assert F.PAPER_PREPROCESSING.as_dict() == {
        "size": 224, "resize": 224, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "interpolation": "bicubic"}
    from PIL import Image
    x = F.PAPER_PREPROCESSING.transform()(Image.new("RGB", (300, 260)))
    assert x.shape == (3, 224, 224)


def test_end_to_end_on_the_standins(tmp_path):
    build_standins(tmp_path / "data", n_train=16, n_val=8, n_test=8, image_size=16, n_classes=4, names=GENERIC_STANDINS)
    net = Counting()
    ckpt = tmp_path / "ckpt.pt"
    torch.save(net.state_dict(), ckpt)
    for name, metric in (("shapes_top1", "top1"), ("shapes_mpc", "mean_per_class"),
                         ("shapes_multilabel", "map11")):
        kw = dict(data_root=tmp_path / "data", cache_dir=tmp_path / "cache",
                  preprocessing=F.Preprocessing(size=16), c_grid=(0.1, 10.0), batch_size=8)
        r = evaluate_transfer(net, ckpt, name, **kw)
        assert r["metric"] == metric and 0 <= r["value"] <= 100 and r["C"] in (0.1, 10.0)
        assert (r["n_train"], r["n_val"], r["n_test"]) == (16, 8, 8)
        assert r["cache_hits"] == {"train": False, "val": False, "test": False}
        net.calls = 0
        again = evaluate_transfer(net, ckpt, name, **kw)
        assert net.calls == 0 and all(again["cache_hits"].values()) and again["value"] == r["value"]


def test_one_job_writes_a_cell_per_dataset_as_separate_jobs_do(tmp_path):
    """`eval.transfer.jobs: per_run`: one process for a run's datasets gives the cells one process
    per dataset gives."""
    import json

    from evaluations.__main__ import main
    from ssl_core.backbones import build_backbone
    from ssl_core.io import save_torch

    build_standins(tmp_path / "data", n_train=16, n_val=8, n_test=8, image_size=16, n_classes=4, names=GENERIC_STANDINS)
    torch.manual_seed(0)
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": build_backbone("resnet_tiny").state_dict()},
               tmp_path / "backbone.pt")
    cfg = json.dumps({"data_root": str(tmp_path / "data"), "grid": {"min": 0.1, "max": 10.0, "num": 2, "meaning": "C"},
                      "image_size": 16, "batch_size": 8, "num_workers": 0})
    names = ["shapes_top1", "shapes_mpc"]
    common = ["transfer", "--backbone", str(tmp_path / "backbone.pt"), "--run", "r", "--config-json", cfg,
              "--device", "cpu"]
    main([*common, "--cache-dir", str(tmp_path / "c1"), "--dataset", *names,
          "--out", *(str(tmp_path / f"run_{n}.json") for n in names)])
    for n in names:
        main([*common, "--cache-dir", str(tmp_path / "c2"), "--dataset", n, "--out", str(tmp_path / f"cell_{n}.json")])
        one, alone = (json.loads((tmp_path / f"{k}_{n}.json").read_text()) for k in ("run", "cell"))
        assert one["dataset"] == n and one["value"] == alone["value"] and one["C"] == alone["C"]
    with pytest.raises(SystemExit, match="2 datasets but 1 --out"):
        main([*common, "--cache-dir", str(tmp_path / "c3"), "--dataset", *names, "--out", str(tmp_path / "x.json")])
