"""Miniature datasets in the real on-disk layouts, for the ``paper_smoke`` profile and the tests.

The paper profile reads ImageNet-1K, the ten transfer sets of Table 1, Pascal VOC07+12 and COCO
2017 from disk with their standard readers (torchvision's ``ImageFolder`` and dataset classes,
Detectron2's ``register_pascal_voc`` / ``register_coco_instances``). :func:`write_miniature`
writes each of them in that exact layout, with a handful of small images, so the paper DAG can run
end to end on any machine (``make smoke``) and a test can read each tree with the reader the paper
profile uses::

    <out>/imagenet/{train,val}/<wnid>/<file>.JPEG       ImageFolder; one CMYK and two greyscale JPEGs
    <out>/transfer/<the ten torchvision trees>          evaluations.transfer.replicas (MINIATURE.json)
    <out>/VOCdevkit/VOC{2007,2012}/{Annotations,ImageSets/Main,JPEGImages}
                                                        devkit XML; 2007 trainval + test, 2012 trainval
    <out>/coco/{train2017,val2017}/<12-digit id>.jpg
    <out>/coco/annotations/instances_{train,val}2017.json
                                                        polygons and crowd (iscrowd 1) uncompressed RLE

Nothing here is a stand-in for a result: the images are seeded noise and rectangles, and a smoke
run's numbers mean nothing. ``python -m evaluations miniature-data --out DIR`` is the DAG's first
rule in the smoke profile.
"""
from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
from PIL import Image

# Four real ImageNet-1K synsets (the first four of the sorted 1,000): their folder names.
IMAGENET_WNIDS = ("n01440764", "n01443537", "n01484850", "n01491361")
IMAGENET_PER_CLASS = {"train": 6, "val": 2}
# VOC class names (the 20 of the devkit) used by the miniature's objects.
VOC_OBJECTS = ("person", "dog", "car", "bicycle")
# COCO 2017 category ids and names (a subset of the 80; ids are not contiguous in COCO either).
COCO_CATEGORIES = ((1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (18, "dog", "animal"))


def _picture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A seeded RGB picture: a noisy background with a few flat rectangles."""
    img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) // 2 + 64
    for _ in range(3):
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        img[y0:y0 + height // 3, x0:x0 + width // 3] = rng.integers(0, 256, 3, dtype=np.uint8)
    return img


def _save_jpeg(path: Path, pixels: np.ndarray, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)  # "L" greyscale, "CMYK": both occur in ImageNet's train set
    image.save(path, format="JPEG", quality=90)


def write_imagenet(root: str | Path, seed: int = 0) -> dict[str, int]:
    """ImageNet-1K's ImageFolder layout with 4 classes: ``train/<wnid>/<wnid>_<n>.JPEG`` and
    ``val/<wnid>/ILSVRC2012_val_<n>.JPEG`` (the official val images sorted into class folders).
    Sizes vary (landscape and portrait, like the real set); one train image is CMYK and one train
    and one val image are greyscale, which the loader must convert to RGB. Returns images per split."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts, val_id = {}, 0
    for split, per_class in IMAGENET_PER_CLASS.items():
        counts[split] = 0
        for c, wnid in enumerate(IMAGENET_WNIDS):
            for i in range(per_class):
                width, height = (int(v) for v in rng.integers(72, 160, 2))
                if split == "train":
                    path = root / split / wnid / f"{wnid}_{1000 * c + i + 1}.JPEG"
                else:
                    val_id += 1
                    path = root / split / wnid / f"ILSVRC2012_val_{val_id:08d}.JPEG"
                mode = {("train", 0, 1): "CMYK", ("train", 1, 2): "L", ("val", 2, 0): "L"}.get((split, c, i), "RGB")
                _save_jpeg(path, _picture(rng, width, height), mode)
                counts[split] += 1
    return counts


def _voc_annotation(folder: str, file_id: str, width: int, height: int,
                    objects: list[tuple[str, tuple[int, int, int, int], int]]) -> ET.ElementTree:
    """The devkit's XML of one image (what Detectron2's ``load_voc_instances`` and torchvision's
    ``VOCDetection`` parse): filename, size, and per object name, pose, truncated, difficult and a
    1-based inclusive ``bndbox``."""
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = folder
    ET.SubElement(ann, "filename").text = f"{file_id}.jpg"
    size = ET.SubElement(ann, "size")
    for key, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(ann, "segmented").text = "0"
    for name, (x1, y1, x2, y2), difficult in objects:
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = str(difficult)
        box = ET.SubElement(obj, "bndbox")
        for key, value in (("xmin", x1), ("ymin", y1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(box, key).text = str(value)
    return ET.ElementTree(ann)


def write_voc(root: str | Path, seed: int = 1) -> dict[str, int]:
    """``VOCdevkit/VOC2007`` (trainval 8, test 6 images) and ``VOCdevkit/VOC2012`` (trainval 8):
    ``Annotations/<id>.xml``, ``ImageSets/Main/{trainval,train,val[,test]}.txt``,
    ``JPEGImages/<id>.jpg`` (ids as the devkit spells them: ``000005``, ``2008_000002``); every
    object class appears in every split, one object per split is marked difficult."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {}
    for year, splits in (("2007", {"trainval": 8, "test": 6}), ("2012", {"trainval": 8})):
        base = root / f"VOC{year}"
        main = base / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        n = 0
        for split, size in splits.items():
            ids = []
            for i in range(size):
                n += 1
                file_id = f"{2 * n + 3:06d}" if year == "2007" else f"2008_{n:06d}"
                width, height = (int(v) for v in rng.integers(96, 200, 2))
                objects = []
                for j in range(1 + i % 2):
                    x1, y1 = int(rng.integers(1, width // 2)), int(rng.integers(1, height // 2))
                    x2, y2 = int(rng.integers(x1 + 8, width)), int(rng.integers(y1 + 8, height))
                    objects.append((VOC_OBJECTS[(i + j) % len(VOC_OBJECTS)], (x1, y1, x2, y2), int(i == 1 and j == 1)))
                _save_jpeg(base / "JPEGImages" / f"{file_id}.jpg", _picture(rng, width, height))
                (base / "Annotations").mkdir(parents=True, exist_ok=True)
                _voc_annotation(f"VOC{year}", file_id, width, height, objects).write(base / "Annotations" / f"{file_id}.xml")
                ids.append(file_id)
            (main / f"{split}.txt").write_text("\n".join(ids) + "\n")
            if split == "trainval":  # the devkit's train / val halves of trainval
                (main / "train.txt").write_text("\n".join(ids[::2]) + "\n")
                (main / "val.txt").write_text("\n".join(ids[1::2]) + "\n")
            counts[f"VOC{year}/{split}"] = len(ids)
    return counts


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE of a binary mask: run lengths over the column-major (Fortran order)
    pixels, starting with a run of zeros (possibly empty)."""
    flat = np.asarray(mask, dtype=np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], change])).tolist()


def write_coco(root: str | Path, seed: int = 2) -> dict[str, int]:
    """COCO 2017: ``train2017/`` (8 images), ``val2017/`` (4) and
    ``annotations/instances_{train,val}2017.json`` with ``images``, ``annotations`` and
    ``categories`` as in the real files: every image has a polygon object (``segmentation`` a list
    of flat ``[x1, y1, x2, y2, ..]`` lists, ``iscrowd`` 0); the first image of each split also has a
    crowd region (``iscrowd`` 1, ``segmentation`` ``{"counts": [..], "size": [h, w]}``, COCO's
    uncompressed RLE). Boxes are ``[x, y, w, h]``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    categories = [{"id": i, "name": n, "supercategory": s} for i, n, s in COCO_CATEGORIES]
    counts, image_id, ann_id = {}, 0, 0
    for split, size in (("train2017", 8), ("val2017", 4)):
        images, annotations = [], []
        for i in range(size):
            image_id += 9 if i == 0 else 1
            width, height = (int(v) for v in rng.integers(120, 220, 2))
            file_name = f"{image_id:012d}.jpg"
            _save_jpeg(root / split / file_name, _picture(rng, width, height))
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                           "license": 1, "date_captured": "2013-11-14 16:28:13"})
            x, y = float(rng.integers(2, width // 2)), float(rng.integers(2, height // 2))
            w, h = float(rng.integers(16, width - x)), float(rng.integers(16, height - y))
            polygon = [x, y, x + w, y, x + w / 2, y + h, x, y + h / 2]  # a quadrilateral inside its box
            ann_id += 1
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": COCO_CATEGORIES[i % 4][0],
                                "segmentation": [polygon], "area": round(0.625 * w * h, 2), "bbox": [x, y, w, h],
                                "iscrowd": 0})
            if i == 0:
                mask = np.zeros((height, width), dtype=np.uint8)
                mask[height // 2:height - 4, 4:width // 2] = 1
                ys, xs = np.nonzero(mask)
                ann_id += 1
                annotations.append({"id": ann_id, "image_id": image_id, "category_id": 1,
                                    "segmentation": {"counts": rle_counts(mask), "size": [height, width]},
                                    "area": float(mask.sum()),
                                    "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                                             float(ys.max() - ys.min() + 1)],
                                    "iscrowd": 1})
        doc = {"info": {"description": "rescue-ssl miniature of COCO 2017", "year": 2017},
               "licenses": [{"id": 1, "name": "none", "url": ""}],
               "images": images, "annotations": annotations, "categories": categories}
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
        counts[split] = len(images)
    return counts


def write_miniature(out: str | Path) -> dict[str, dict]:
    """Every miniature tree under ``out`` (see the module docstring); returns what was written."""
    from evaluations.transfer.replicas import make_all

    out = Path(out)
    written = {"imagenet": write_imagenet(out / "imagenet"), "voc": write_voc(out / "VOCdevkit"),
               "coco": write_coco(out / "coco"),
               "transfer": {name: {split: len(items) for split, items in manifest.items()}
                            for name, manifest in make_all(out / "transfer").items()}}
    (out / "miniature.json").write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    return written
