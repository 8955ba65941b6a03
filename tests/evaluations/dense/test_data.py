"""The tiny profile's dense data: the shapes as COCO and VOC, registered with Detectron2 and passing
its own checks; Detectron2's evaluators give AP 100 when the ground truth is fed back."""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
import torch

from evaluations.dense.data import write_dense_shapes
from ssl_core.datasets.shapes import generate_shapes

D2_SKIP = "Detectron2 is not installed (see docs/detectron2.md: make detectron2)"


@pytest.fixture(scope="module")
def dense_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dense")
    generate_shapes(root / "shapes", n_train=12, n_val=8, image_size=32)
    write_dense_shapes(root / "shapes", root / "dense", n_train=10, n_test=8)  # 8 val images: every class
    return {"name": "shapes", "root": str(root / "dense"), "shapes_root": str(root / "shapes")}


def test_voc_boxes_are_the_coco_boxes(dense_data):
    from pathlib import Path

    dense = Path(dense_data["root"])
    coco = json.loads((dense / "coco" / "instances_test.json").read_text())
    assert len(coco["images"]) == 8 and (dense / "voc" / "ImageSets" / "Main" / "test.txt").read_text().count("\n") == 8
    ann = coco["annotations"][0]
    x, y, w, h = ann["bbox"]
    obj = ET.parse(dense / "voc" / "Annotations" / f"val_{ann['image_id']:06d}.xml").find("object")
    box = [int(obj.find("bndbox").find(t).text) for t in ("xmin", "ymin", "xmax", "ymax")]
    assert box == [x + 1, y + 1, x + w, y + h]  # VOC: 1-based inclusive pixels
    assert obj.find("name").text == coco["categories"][ann["category_id"] - 1]["name"]


def test_registered_datasets_pass_detectron2_checks(dense_data):
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from detectron2.data import DatasetCatalog, get_detection_dataset_dicts
    from detectron2.data.detection_utils import annotations_to_instances, check_image_size, read_image

    from evaluations.dense.detectron import register_datasets

    names = register_datasets(dense_data)
    for task, (train, test) in names.items():
        # detectron2's own loading path: class-consistency and empty-annotation filtering checks
        dicts = get_detection_dataset_dicts(list(train) + [test], filter_empty=True)
        assert len(dicts) == 10 + 8
        for d in dicts[:4]:
            check_image_size(d, read_image(d["file_name"], format="RGB"))
            inst = annotations_to_instances(d["annotations"], (d["height"], d["width"]),
                                            mask_format="bitmask")
            assert len(inst) == len(d["annotations"]) >= 1
            if task == "coco":  # masks decode to the visible pixels inside their boxes
                assert inst.gt_masks.tensor.any()
        assert len(DatasetCatalog.get(test)) == 8


def _ground_truth_as_predictions(d):
    from detectron2.structures import BoxMode, Boxes, Instances
    from pycocotools import mask as mask_util

    anns = d["annotations"]
    inst = Instances((d["height"], d["width"]))
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in anns]
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    inst.scores = torch.ones(len(anns))
    inst.pred_classes = torch.tensor([a["category_id"] for a in anns])
    if "segmentation" in anns[0]:
        masks = [mask_util.decode(a["segmentation"]) for a in anns]
        inst.pred_masks = torch.tensor(masks, dtype=torch.bool)
    return {"instances": inst}


@pytest.mark.parametrize("task", ["voc", "coco"])
def test_evaluators_score_ground_truth_100(task, dense_data, tmp_path):
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from detectron2.data import DatasetCatalog

    from evaluations.dense.detectron import Trainer, build_cfg, register_datasets, results_to_metrics

    train, test = register_datasets(dense_data)[task]
    sched = {"max_iter": 1, "steps": [1], "ims_per_batch": 1, "base_lr": 0.01, "min_size_train": [32], "min_size_test": 32}
    cfg = build_cfg(task, {"family": "vit"}, sched, (train, test), "", str(tmp_path))
    evaluator = Trainer.build_evaluator(cfg, test, str(tmp_path))
    evaluator.reset()
    dicts = DatasetCatalog.get(test)
    for d in dicts:
        evaluator.process([{"image_id": d["image_id"], "file_name": d["file_name"], "height": d["height"],
                            "width": d["width"]}], [_ground_truth_as_predictions(d)])
    rows = results_to_metrics(task, evaluator.evaluate(), "shapes")
    assert {r["task"] for r in rows} == ({"det_voc"} if task == "voc" else {"det_coco", "seg_coco"})
    assert all(r["value"] == pytest.approx(100.0) for r in rows), rows
    # and a wrong class everywhere scores 0
    evaluator.reset()
    for d in dicts:
        pred = _ground_truth_as_predictions(d)
        pred["instances"].pred_classes = (pred["instances"].pred_classes + 1) % cfg.MODEL.ROI_HEADS.NUM_CLASSES
        evaluator.process([{"image_id": d["image_id"], "height": d["height"], "width": d["width"]}], [pred])
    assert all(r["value"] < 100 for r in results_to_metrics(task, evaluator.evaluate(), "shapes"))


def test_a_fine_tuning_run_follows_its_seed(dense_data, tmp_path):
    """The heads' init and the data order come from cfg.SEED: the same seed gives the same weights
    after training, another seed other ones (two iterations of the C4 recipe on the tiny ResNet)."""
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from evaluations.dense.convert import convert_backbone, describe
    from evaluations.dense.detectron import run_dense
    from ssl_core.backbones import build_backbone
    from ssl_core.io import save_torch

    sd = build_backbone("resnet_tiny").state_dict()
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": sd}, tmp_path / "backbone.pt")
    convert_backbone(tmp_path / "backbone.pt", tmp_path / "d2.pkl")
    sched = {"max_iter": 2, "steps": [1], "ims_per_batch": 2, "base_lr": 0.01, "warmup_iters": 1,
             "min_size_train": [32], "max_size_train": 32, "min_size_test": 32, "max_size_test": 32,
             "precise_bn_iters": 0, "checkpoint_period": 100}

    def trained(seed, name):
        out = tmp_path / name
        run_dense("voc", describe("resnet_tiny", {}, sd), sched, dense_data, str(tmp_path / "d2.pkl"), str(out),
                  seed=seed)
        return torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)["model"]

    a, b, c = trained(0, "a"), trained(0, "b"), trained(1, "c")
    head = "roi_heads.box_predictor.cls_score.weight"
    assert torch.equal(a[head], b[head]) and torch.equal(a["backbone.stem.conv1.weight"], b["backbone.stem.conv1.weight"])
    assert not torch.equal(a[head], c[head])
