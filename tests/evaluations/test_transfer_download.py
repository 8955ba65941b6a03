"""The download of a transfer set (the cifar profile's download_data jobs) with torchvision's download
patched to write a replica, and the once-per-set decode of its images. Nothing is downloaded."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from evaluations.__main__ import main
from evaluations.transfer import datasets as D
from ssl_core.config import load_config
from ssl_core.datasets.check import image_files
from tests.conftest import ROOT
from evaluations.transfer import replicas as R

CIFAR_PROFILE_SETS = load_config(ROOT / "config" / "cifar.yaml")["eval"]["transfer"]["datasets"]


@pytest.fixture(autouse=True)
def _md5(monkeypatch):
    R.bypass_md5(monkeypatch)


def patch_download(monkeypatch, name: str) -> list[dict]:
    """``name``'s torchvision class, with ``download=True`` writing the replica before the real
    class reads it; returns the keyword arguments of every download call."""
    spec, calls = D.REGISTRY[name], []

    def tv_class(root, download=False, **kwargs):
        if download:
            calls.append(kwargs)
            R.BUILDERS[name](Path(root))
        return spec.tv_class(root, download=False, **kwargs)

    monkeypatch.setitem(D.REGISTRY, name, dataclasses.replace(spec, tv_class=tv_class))
    return calls


@pytest.mark.parametrize("name", CIFAR_PROFILE_SETS)
def test_download_then_marker_then_readable(name, tmp_path, monkeypatch):
    """Every set the cifar profile reads: one download job fetches it (once per torchvision source,
    e.g. CIFAR's train and test come from one call per split flag), then writes the marker the
    jobs reading it wait for; the loaders then read what was downloaded."""
    calls = patch_download(monkeypatch, name)
    root, marker = tmp_path / "data", tmp_path / "downloaded" / f"{name}.json"
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded automatically"):
        D.check_present(name, root)
    main(["download", "--dataset", name, "--root", str(root), "--out", str(marker)])
    assert json.loads(marker.read_text()) == {"dataset": name, "root": str(root)}
    sources = list(D.REGISTRY[name].tv_kwargs.values())
    assert calls == [k for i, k in enumerate(sources) if k not in sources[:i]]
    assert len(D.load_split(name, root, "test")) > 0


def test_failed_download_writes_no_marker(tmp_path, monkeypatch):
    spec = D.REGISTRY["dtd"]

    def offline(root, download=False, **kwargs):
        raise RuntimeError("Error downloading dtd-r1.0.1.tar.gz: no network")

    monkeypatch.setitem(D.REGISTRY, "dtd", dataclasses.replace(spec, tv_class=offline))
    with pytest.raises(RuntimeError, match="no network"):
        main(["download", "--dataset", "dtd", "--root", str(tmp_path), "--out", str(tmp_path / "m.json")])
    assert not (tmp_path / "m.json").exists()


def test_image_folders_hold_every_image_of_each_replica(tmp_path):
    manifests = R.make_all(tmp_path)
    for name, manifest in manifests.items():
        files = {str(p.relative_to(tmp_path)) for p in image_files(D.image_folders(name, tmp_path))}
        if name.startswith("cifar"):
            assert files == set(), name  # pickles
        else:  # every image a split reads is checked (ids: paths below some folder; VOC: image ids)
            ids = {i for rows in manifest.values() for i, _ in rows}
            assert files and all(any(f.endswith(i) or Path(f).stem == i for f in files) for i in ids), name


def test_transfer_check_names_a_corrupt_image(tmp_path):
    R.make_dtd(tmp_path)
    out = tmp_path / "checked.json"
    main(["transfer-check", "--dataset", "dtd", "--root", str(tmp_path), "--workers", "0", "--out", str(out)])
    assert json.loads(out.read_text())["n_images"] == len(list((tmp_path / "dtd" / "dtd" / "images").rglob("*.jpg")))
    bad = next((tmp_path / "dtd" / "dtd" / "images").rglob("*.jpg"))
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(SystemExit) as e:
        main(["transfer-check", "--dataset", "dtd", "--root", str(tmp_path), "--workers", "2", "--out", str(out)])
    assert str(bad) in str(e.value) and "the transfer set dtd" in str(e.value)
