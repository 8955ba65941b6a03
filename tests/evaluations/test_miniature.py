"""The miniature trees (evaluations/miniature.py) read by the readers the paper profile uses, and the
data checks that run before any GPU job, each failing on one broken file of its kind with a line
naming the file and the fix."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree.ElementTree import parse as xml_parse

import numpy as np
import pytest
from PIL import Image

from evaluations.dense.check import VOC_CLASSES, DataCheckError, check_dense_data
from evaluations.miniature import IMAGENET_WNIDS, rle_counts, write_miniature
from ssl_core.datasets.check import CorruptImagesError, check_classes, check_images

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mini") / "miniature"
    write_miniature(out)
    return out


def _copy(mini: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(mini, dst)
    return dst


def _dense(root: Path) -> dict:
    return {"name": "real", "voc_root": str(root / "VOCdevkit"), "coco_root": str(root / "coco")}


# --------------------------------------------------------------------------- ImageNet
def test_imagenet_read_by_the_pretraining_reader(mini):
    from ssl_core.datasets import pretrain_folders, pretrain_split

    data = {"name": "imagenet", "root": str(mini / "imagenet")}
    modes = {Image.open(p).mode for p in (mini / "imagenet").rglob("*.JPEG")}
    assert {"RGB", "L", "CMYK"} <= modes  # the odd JPEGs ImageNet has are there
    for split, n in (("train", 24), ("val", 8)):
        ds = pretrain_split(data, split)
        assert ds.classes == sorted(IMAGENET_WNIDS) and len(ds) == n
        assert all(p.endswith(".JPEG") for p, _ in ds.samples)
        assert {ds[i][0].mode for i in range(len(ds))} == {"RGB"}  # CMYK and greyscale converted
    assert check_classes(pretrain_folders(data), 4, "x") == []


def test_pretrain_check_fails_on_a_truncated_jpeg_and_a_class_count(mini, tmp_path):
    root = _copy(mini, tmp_path) / "imagenet"
    bad = next((root / "val").rglob("*.JPEG"))
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(CorruptImagesError, match=str(bad)):
        check_images([root / "train", root / "val"], tmp_path / "marker.json", "imagenet")
    assert not (tmp_path / "marker.json").exists()
    problems = check_classes([root / "train", root / "val"], 1000, "imagenet")
    assert len(problems) == 2 and all("4 class folders, expected 1000" in p and "data.check.pretrain_classes" in p
                                      for p in problems)
    shutil.rmtree(next((root / "val").iterdir()))
    (line,) = check_classes([root / "train", root / "val"], None, "imagenet")
    assert line.startswith(str(root / "val")) and "sort the validation images" in line


def test_sampled_check_decodes_the_sample_only(mini, tmp_path):
    result = check_images([mini / "imagenet" / "train"], tmp_path / "m.json", "imagenet", sample=5)
    assert result["n_images"] == 24 and result["n_decoded"] == 5


# --------------------------------------------------------------------------- transfer
@pytest.mark.filterwarnings("ignore:SUN397")  # the torchvision archive has no partition files either
def test_the_ten_transfer_trees_read_by_load_split(mini):
    from evaluations.transfer.datasets import load_split, spec_of

    names = json.loads((mini / "miniature.json").read_text())["transfer"]
    assert len(names) == 10
    for name, splits in names.items():
        for split in ("train", "val", "test"):
            ds = load_split(name, mini / "transfer", split)
            assert len(ds) > 0, (name, split)
            image, target = ds[0]
            assert image.shape[0] == 3
        if spec_of(name).multilabel:
            assert target.shape == (20,)


def test_md5_is_waived_only_for_a_miniature_root(mini, tmp_path):
    from evaluations.transfer.datasets import load_split

    root = tmp_path / "real"
    shutil.copytree(mini / "transfer" / "cifar-10-batches-py", root / "cifar-10-batches-py")
    with pytest.raises(RuntimeError, match="corrupted"):  # torchvision's md5 check, untouched
        load_split("cifar10", root, "train")


def test_transfer_check_names_a_broken_split_file(mini, tmp_path):
    root = _copy(mini, tmp_path) / "transfer"
    (root / "dtd" / "dtd" / "labels" / "val1.txt").unlink()
    r = subprocess.run([sys.executable, "-m", "evaluations", "transfer-check", "--dataset", "dtd", "--root", str(root),
                        "--out", str(tmp_path / "dtd.json")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode != 0 and "split of dtd cannot be built" in r.stderr and "val1.txt" in r.stderr
    assert "docs/data.md" in r.stderr and not (tmp_path / "dtd.json").exists()


# --------------------------------------------------------------------------- VOC and COCO
def test_voc_and_coco_as_written_pass_the_check(mini, tmp_path):
    result = check_dense_data(_dense(mini), tmp_path / "dense.json")
    assert result["voc"] == {"2007_trainval": 8, "2012_trainval": 8, "2007_test": 6}
    assert result["coco"]["train2017"]["images"] == 8 and (tmp_path / "dense.json").is_file()


def test_coco_crowd_rle_decodes_to_its_area_and_box(mini):
    """An independent decode of COCO's uncompressed RLE (alternate runs of 0 and 1 over the
    column-major pixels): the crowd masks cover exactly their area, inside their box."""
    doc = json.loads((mini / "coco" / "annotations" / "instances_train2017.json").read_text())
    crowd = [a for a in doc["annotations"] if a["iscrowd"]]
    polygons = [a for a in doc["annotations"] if not a["iscrowd"]]
    assert crowd and polygons and all(isinstance(a["segmentation"], list) for a in polygons)
    for ann in crowd:
        h, w = ann["segmentation"]["size"]
        pixels = np.concatenate([np.full(n, i % 2, np.uint8) for i, n in enumerate(ann["segmentation"]["counts"])])
        mask = pixels.reshape((w, h)).T
        ys, xs = np.nonzero(mask)
        x, y, bw, bh = ann["bbox"]
        assert mask.sum() == ann["area"] and (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + bw, y + bh)
    assert rle_counts(np.array([[1, 0], [1, 1]])) == [0, 2, 1, 1]


def test_voc_xml_as_torchvision_and_the_devkit_read_it(mini):
    from torchvision.datasets import VOCDetection

    ds = VOCDetection(str(mini), year="2012", image_set="trainval", download=False)
    assert len(ds) == 8
    image, target = ds[0]
    assert target["annotation"]["size"]["width"] == str(image.width)
    for xml in (mini / "VOCdevkit" / "VOC2007" / "Annotations").glob("*.xml"):
        assert all(o.findtext("name") in VOC_CLASSES for o in xml_parse(xml).findall("object"))


def _break(root: Path, kind: str) -> str:
    """One broken file of each kind; returns the path the check must name."""
    if kind == "voc_xml":
        xml = next((root / "VOCdevkit" / "VOC2012" / "Annotations").glob("*.xml"))
        xml.write_text("<annotation><size><width>")
        return str(xml)
    if kind == "voc_image":
        jpg = sorted((root / "VOCdevkit" / "VOC2007" / "JPEGImages").glob("*.jpg"))[-1]
        jpg.unlink()
        return str(jpg)
    path = root / "coco" / "annotations" / "instances_val2017.json"
    doc = json.loads(path.read_text())
    if kind == "coco_rle":
        next(a for a in doc["annotations"] if a["iscrowd"])["segmentation"]["counts"][-1] += 1
    elif kind == "coco_category":
        doc["annotations"][0]["category_id"] = 999
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("kind", ["voc_xml", "voc_image", "coco_rle", "coco_category"])
def test_dense_check_names_one_broken_file(mini, tmp_path, kind):
    root = _copy(mini, tmp_path)
    where = _break(root, kind)
    with pytest.raises(DataCheckError) as e:
        check_dense_data(_dense(root), tmp_path / "dense.json")
    (line,) = [ln for ln in str(e.value).splitlines()[1:]]
    assert line.strip().startswith(where) and ("data.dense.voc_root" in line or "data.dense.coco_root" in line)
    assert not (tmp_path / "dense.json").exists()


def test_detectron2_reads_voc_and_coco(mini):
    """Detectron2's own loaders (what the dense jobs register) on the miniature trees."""
    pytest.importorskip("detectron2", reason="Detectron2 is not installed (make detectron2, docs/detectron2.md)")
    from detectron2.data.datasets import load_coco_json, load_voc_instances

    voc = load_voc_instances(str(mini / "VOCdevkit" / "VOC2007"), "test", VOC_CLASSES)
    assert len(voc) == 6 and all(r["annotations"] for r in voc)
    coco = load_coco_json(str(mini / "coco" / "annotations" / "instances_train2017.json"), str(mini / "coco" / "train2017"),
                          extra_annotation_keys=["iscrowd"])
    assert len(coco) == 8
    crowd = [a for r in coco for a in r["annotations"] if a.get("iscrowd")]
    assert crowd and isinstance(crowd[0]["segmentation"], dict)
