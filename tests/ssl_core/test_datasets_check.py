"""The once-per-data-set decode of every image (ssl_core.datasets.check)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ssl_core.__main__ import main
from ssl_core.datasets import check
from ssl_core.datasets.check import CorruptImagesError, check_images
from tests.conftest import write_image_folder


def image_folder(root: Path) -> Path:
    """An ImageFolder split: 6 images over two classes, ``class0/0.jpg`` a JPEG, the rest PNGs."""
    write_image_folder(root, n_per_class=3)
    png = root / "class0" / "0.png"
    Image.open(png).save(root / "class0" / "0.jpg")
    png.unlink()
    (root / "class0" / "notes.txt").write_text("not an image: not checked")
    return root


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.fixture()
def corrupt_split(tmp_path):
    root = image_folder(tmp_path / "train")
    return root, [truncate(root / "class0" / "0.jpg"), truncate(root / "class1" / "1.png")]


@pytest.mark.parametrize("workers", [0, 2])
def test_names_every_corrupt_file_and_writes_no_marker(corrupt_split, tmp_path, workers, monkeypatch):
    root, bad = corrupt_split
    monkeypatch.setattr(check, "CHUNK", 2)  # several chunks: the pool path with 2 workers
    marker = tmp_path / "checked.json"
    with pytest.raises(CorruptImagesError) as e:
        check_images([root], marker, "the test set", workers=workers)
    message = str(e.value)
    assert "2 of 6 images of the test set" in message
    assert all(str(p) in message for p in bad) and message.count(str(root)) == 2
    assert "rerun" in message and "No image is skipped" in message
    assert not marker.exists()


def test_marker_is_keyed_on_the_file_list(tmp_path, monkeypatch):
    root = image_folder(tmp_path / "train")
    marker = tmp_path / "checked.json"
    result = check_images([root], marker, "the test set")
    assert result["n_images"] == 6 and json.loads(marker.read_text()) == result
    decoded = []
    monkeypatch.setattr(check, "find_corrupt", lambda files, workers=0: decoded.append(len(files)) or [])
    marker.unlink()  # as Snakemake does before it reruns the check job
    check_images([root], marker, "the test set")
    assert decoded == [] and json.loads(marker.read_text()) == result  # same files: cached
    truncate(root / "class1" / "2.png")  # a file replaced since the check: decoded again
    check_images([root], marker, "the test set")
    assert decoded == [6]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data folder at .*absent"):
        check_images([tmp_path / "absent"], tmp_path / "m.json", "x")


def test_cli_checks_both_splits_of_the_pretraining_set(tmp_path, capsys):
    """``python -m ssl_core check-images``: the data rule's command; it exits with the message."""
    image_folder(tmp_path / "data" / "train")
    image_folder(tmp_path / "data" / "val")
    data = json.dumps({"name": "shapes", "root": str(tmp_path / "data"), "num_workers": 0})
    assert main(["check-images", "--data", data, "--out", str(tmp_path / "ok.json")]) == 0
    assert json.loads((tmp_path / "ok.json").read_text())["n_images"] == 12
    bad = truncate(tmp_path / "data" / "val" / "class0" / "0.jpg")
    with pytest.raises(SystemExit) as e:
        main(["check-images", "--data", data, "--out", str(tmp_path / "bad.json")])
    assert str(bad) in str(e.value) and "pretraining set shapes" in str(e.value)
