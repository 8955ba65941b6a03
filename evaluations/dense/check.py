"""Check Table 2's data before any dense job: Pascal VOC07+12 and COCO 2017 as Detectron2 reads them.

The dense jobs (``evaluations.dense.detectron``) register ``voc_2007_trainval``,
``voc_2012_trainval`` and ``voc_2007_test`` under ``data.dense.voc_root`` and
``coco_2017_{train,val}`` under ``data.dense.coco_root``; Detectron2 parses them inside the job, a
GPU-hour in. :func:`check_dense_data` does the same reading first, without Detectron2 or torch:
every split file, every devkit XML (size, object names among the 20 classes, boxes inside the
image), every COCO instances file (images, annotations whose image and category exist, boxes,
polygons, and crowd RLE whose run lengths cover the image) and the presence of every image file.
It fails with one line per problem naming the file and the fix (the first 20, and how many more);
on success it writes a marker with the counts.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError, parse as xml_parse

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
# (year, split) of VOC07+12 that the dense jobs read (MoCo's detection/configs: trainval 07+12, test 07)
VOC_SPLITS = (("2007", "trainval"), ("2012", "trainval"), ("2007", "test"))
COCO_SPLITS = ("train2017", "val2017")
SHOWN = 20  # problems listed in the message; the rest are counted
VOC_FIX = "re-extract the VOC archive (VOCtrainval_06-Nov-2007, VOCtest_06-Nov-2007, VOCtrainval_11-May-2012) into data.dense.voc_root"
COCO_FIX = "re-extract annotations_trainval2017.zip and the train2017 / val2017 image archives into data.dense.coco_root"


class DataCheckError(RuntimeError):
    """The dense data cannot be read as the jobs read it; the message names each problem."""


def _voc_split(root: Path, year: str, split: str, problems: list[str]) -> int:
    base = root / f"VOC{year}"
    listing = base / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.is_file():
        problems.append(f"{listing}: missing: {VOC_FIX} (expected VOCdevkit/VOC{year}/ImageSets/Main/{split}.txt)")
        return 0
    ids = listing.read_text().split()
    if not ids:
        problems.append(f"{listing}: lists no image: {VOC_FIX}")
    for file_id in ids:
        xml, jpg = base / "Annotations" / f"{file_id}.xml", base / "JPEGImages" / f"{file_id}.jpg"
        if not jpg.is_file():
            problems.append(f"{jpg}: missing (listed in {listing}): {VOC_FIX}")
        try:
            tree = xml_parse(xml)
        except (OSError, ParseError) as e:
            problems.append(f"{xml}: cannot be parsed ({type(e).__name__}: {e}): {VOC_FIX}")
            continue
        try:
            width, height = (int(tree.findtext(f"size/{k}")) for k in ("width", "height"))
        except (TypeError, ValueError):
            problems.append(f"{xml}: no integer size/width and size/height: {VOC_FIX}")
            continue
        for obj in tree.findall("object"):
            name = (obj.findtext("name") or "").strip()
            if name not in VOC_CLASSES:
                problems.append(f"{xml}: object class {name!r} is not one of VOC's 20 classes: {VOC_FIX}")
            try:
                x1, y1, x2, y2 = (float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            except (TypeError, ValueError):
                problems.append(f"{xml}: object {name!r} has no numeric bndbox xmin/ymin/xmax/ymax: {VOC_FIX}")
                continue
            if not (1 <= x1 <= x2 <= width and 1 <= y1 <= y2 <= height):
                problems.append(f"{xml}: object {name!r} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is not inside the "
                                f"{width}x{height} image: {VOC_FIX}")
    return len(ids)


def _rle_problem(segmentation: dict, image: dict) -> str | None:
    size = segmentation.get("size")
    counts = segmentation.get("counts")
    if size != [image["height"], image["width"]]:
        return f"RLE size {size} is not the image's [height, width] [{image['height']}, {image['width']}]"
    if isinstance(counts, list):
        if any(not isinstance(c, int) or c < 0 for c in counts) or sum(counts) != size[0] * size[1]:
            return f"RLE run lengths sum to {sum(c for c in counts if isinstance(c, int))}, not {size[0] * size[1]} pixels"
        return None
    if not isinstance(counts, str) or not counts:
        return "RLE counts is neither a list of run lengths nor a compressed string"
    return None


def _coco_split(root: Path, split: str, problems: list[str]) -> tuple[int, int]:
    path = root / "annotations" / f"instances_{split}.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        problems.append(f"{path}: cannot be read as JSON ({type(e).__name__}: {e}): {COCO_FIX}")
        return 0, 0
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(doc.get(k), list)]
    if missing:
        problems.append(f"{path}: no {', '.join(missing)} list: {COCO_FIX}")
        return 0, 0
    images = {}
    for image in doc["images"]:
        if not all(k in image for k in ("id", "file_name", "width", "height")):
            problems.append(f"{path}: image entry {image.get('id')} lacks id / file_name / width / height: {COCO_FIX}")
            continue
        images[image["id"]] = image
        if not (root / split / image["file_name"]).is_file():
            problems.append(f"{root / split / image['file_name']}: missing (image {image['id']} of {path.name}): {COCO_FIX}")
    categories = {c.get("id") for c in doc["categories"]}
    for ann in doc["annotations"]:
        where = f"{path}: annotation {ann.get('id')}"
        image = images.get(ann.get("image_id"))
        if image is None:
            problems.append(f"{where} refers to image {ann.get('image_id')}, which is not in images: {COCO_FIX}")
            continue
        if ann.get("category_id") not in categories:
            problems.append(f"{where} has category {ann.get('category_id')}, which is not in categories: {COCO_FIX}")
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
                and box[2] >= 0 and box[3] >= 0):
            problems.append(f"{where}: bbox {box} is not [x, y, width, height]: {COCO_FIX}")
        seg = ann.get("segmentation")
        if ann.get("iscrowd", 0):
            reason = _rle_problem(seg, image) if isinstance(seg, dict) else "a crowd region's segmentation is not RLE"
            if reason:
                problems.append(f"{where} (iscrowd 1): {reason}: {COCO_FIX}")
        elif not (isinstance(seg, list) and seg and all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                                                         for p in seg)):
            problems.append(f"{where}: segmentation is not a list of polygons [x1, y1, x2, y2, x3, y3, ..]: {COCO_FIX}")
    return len(images), len(doc["annotations"])


def check_dense_data(data: dict[str, Any], marker: str | Path | None = None) -> dict[str, Any]:
    """Check ``data`` (the config's ``data.dense``, ``name: real``) as the dense jobs read it; raise
    :class:`DataCheckError` listing the problems, else write ``marker`` (if given) and return counts."""
    if data.get("name") != "real":
        raise DataCheckError(f"data.dense.name is {data.get('name')!r}: only name: real (VOC and COCO on disk) is checked here")
    problems: list[str] = []
    voc_root, coco_root = Path(data["voc_root"]), Path(data["coco_root"])
    result: dict[str, Any] = {"voc_root": str(voc_root), "coco_root": str(coco_root), "voc": {}, "coco": {}}
    for year, split in VOC_SPLITS:
        result["voc"][f"{year}_{split}"] = _voc_split(voc_root, year, split, problems)
    for split in COCO_SPLITS:
        n_images, n_annotations = _coco_split(coco_root, split, problems)
        result["coco"][split] = {"images": n_images, "annotations": n_annotations}
    if problems:
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise DataCheckError(f"{len(problems)} problems with the dense data (Table 2):\n"
                             + "\n".join(f"  {p}" for p in problems[:SHOWN]) + more)
    if marker is not None:
        from ssl_core.io import write_json

        write_json(marker, result)
    return result
