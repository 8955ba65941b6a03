"""The tiny profile's dense-prediction data: the generated shapes (``ssl_core.datasets.shapes``, COCO
boxes + masks) as a small COCO subset and as a Pascal VOC tree, so the paper's two recipes
(VOC07+12 detection, COCO detection + instance segmentation) run unchanged on CPU.

Layout written by :func:`write_dense_shapes` (the first ``n_train`` train / ``n_test`` val images)::

    <out>/coco/instances_{train,test}.json   COCO, file names relative to the shapes root
    <out>/voc/Annotations/<id>.xml           Pascal VOC, read by detectron2's load_voc_instances
    <out>/voc/ImageSets/Main/{trainval,test}.txt
    <out>/voc/JPEGImages/<id>.jpg            (the VOC loader reads .jpg: written at quality 95)
    <out>/meta.json

Needs no Detectron2 (the registration is in ``evaluations.dense.detectron``).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

from PIL import Image

from ssl_core.io import write_json

SPLITS = {"trainval": "train", "test": "val"}  # VOC image set -> shapes split


def _voc_xml(file_id: str, width: int, height: int, objects: list[tuple[str, list[int]]]) -> ET.ElementTree:
    """A VOC annotation: 1-based inclusive pixel boxes, i.e. COCO [x, y, w, h] -> (x+1, y+1, x+w, y+h)
    (detectron2's loader subtracts 1 from xmin/ymin; its VOC evaluator reads the integers)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = f"{file_id}.jpg"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    for name, (x, y, w, h) in objects:
        obj = ET.SubElement(root, "object")
        for tag, value in (("name", name), ("pose", "Unspecified"), ("truncated", 0), ("difficult", 0)):
            ET.SubElement(obj, tag).text = str(value)
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(box, tag).text = str(value)
    return ET.ElementTree(root)


def write_dense_shapes(shapes_root: str | Path, out: str | Path, *, n_train: int, n_test: int) -> Path:
    """Write the COCO subset and the VOC tree of the shapes dataset at ``shapes_root`` to ``out``."""
    shapes_root, out = Path(shapes_root), Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "voc" / "ImageSets" / "Main").mkdir(parents=True)
    (tmp / "voc" / "Annotations").mkdir()
    (tmp / "voc" / "JPEGImages").mkdir()
    (tmp / "coco").mkdir()
    classes = []
    for image_set, split in SPLITS.items():
        coco = json.loads((shapes_root / "annotations" / f"instances_{split}.json").read_text())
        classes = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
        images = sorted(coco["images"], key=lambda im: im["id"])[: n_train if image_set == "trainval" else n_test]
        keep = {im["id"] for im in images}
        anns = [a for a in coco["annotations"] if a["image_id"] in keep]
        subset = {**coco, "images": [{**im, "file_name": f"{split}/{im['file_name']}"} for im in images],
                  "annotations": anns}
        (tmp / "coco" / f"instances_{image_set}.json").write_text(json.dumps(subset, separators=(",", ":")))
        ids = []
        for im in images:
            file_id = f"{split}_{im['id']:06d}"
            ids.append(file_id)
            Image.open(shapes_root / split / im["file_name"]).convert("RGB").save(
                tmp / "voc" / "JPEGImages" / f"{file_id}.jpg", quality=95)
            objects = [(classes[a["category_id"] - 1], a["bbox"]) for a in anns if a["image_id"] == im["id"]]
            _voc_xml(file_id, im["width"], im["height"], objects).write(tmp / "voc" / "Annotations" / f"{file_id}.xml")
        (tmp / "voc" / "ImageSets" / "Main" / f"{image_set}.txt").write_text("".join(i + "\n" for i in ids))
    write_json(tmp / "meta.json", {"shapes_root": str(shapes_root), "n_train": n_train, "n_test": n_test,
                                   "classes": classes})
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def dense_classes(root: str | Path) -> list[str]:
    return json.loads((Path(root) / "meta.json").read_text())["classes"]
