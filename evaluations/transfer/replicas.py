"""Miniature on-disk replicas of the ten transfer datasets, in the exact layout torchvision reads.

Written by the project for its tests and for the ``paper_smoke`` profile (``evaluations.miniature``
writes them under the smoke's ``eval.transfer.data_root``), read by the same loaders as the real
sets (``evaluations.transfer.datasets.load_split``).

Each ``make_<name>(root)`` writes a few 8x8 images plus the real annotation / split files under
``root`` (the data root passed to ``load_split``) and returns a manifest: for every torchvision
source split, the ordered ``(sample id, label)`` pairs it wrote (sample ids as
``TransferSplit.ids`` spells them), so tests can assert split sizes and targets independently of
the loader. Classes are chosen so that every class appears in every split and split sizes differ,
so a swapped or mislabelled split fails a test.

Integrity checks: ``CIFAR10/100`` and ``Flowers102`` verify the md5 of their files
(``check_integrity(path, md5)``). A replica cannot match the real hashes, so :func:`bypass_md5`
replaces the ``check_integrity`` those two modules imported by the same function with
``md5=None`` -- "the file exists" -- keeping every other check and all parsing unchanged. The other
classes only test that folders exist, which the replicas satisfy. Tests call it; the loaders use
:func:`miniature_integrity` instead, which does the same only for a data root that
:func:`make_all` marked as a miniature (``MINIATURE.json``): a real data root is md5-checked as
torchvision does.
"""
from __future__ import annotations

import json
import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

Manifest = dict[str, list[tuple[str, Any]]]


MARKER = "MINIATURE.json"  # written at the top of a data root made by make_all


def is_miniature(root: str | Path) -> bool:
    """Whether ``root`` is a data root written by :func:`make_all` (not a real download)."""
    return (Path(root) / MARKER).is_file()


@contextmanager
def miniature_integrity(root: str | Path):
    """Within the block, torchvision's CIFAR and Flowers102 accept the files of a miniature data
    root without their md5 (which no replica can match); a real root is left untouched."""
    if not is_miniature(root):
        yield
        return
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.flowers102 as flowers
    from torchvision.datasets.utils import check_integrity

    saved = cifar.check_integrity, flowers.check_integrity
    cifar.check_integrity = flowers.check_integrity = lambda fpath, md5=None: check_integrity(fpath, None)
    try:
        yield
    finally:
        cifar.check_integrity, flowers.check_integrity = saved


def bypass_md5(monkeypatch) -> None:
    """Let torchvision's CIFAR and Flowers102 accept replica files (existence check only)."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.flowers102 as flowers
    from torchvision.datasets.utils import check_integrity

    def exists_only(fpath, md5=None):
        return check_integrity(fpath, None)

    monkeypatch.setattr(cifar, "check_integrity", exists_only)
    monkeypatch.setattr(flowers, "check_integrity", exists_only)


def _image(path: Path, seed: int, size: int = 8, mode: str = "RGB") -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), "L").save(path)
    else:
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


# --------------------------------------------------------------------------- CIFAR
def _cifar_batch(path: Path, labels: list[int], key: str, seed: int, extra: dict | None = None) -> None:
    rng = np.random.default_rng(seed)
    entry = {"batch_label": path.name, "data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8),
             key: labels, "filenames": [f"img_{seed}_{i}.png" for i in range(len(labels))], **(extra or {})}
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)


def make_cifar10(root: Path) -> Manifest:
    """5 data batches of 20 images (every class twice per batch: 10 per class) + a test batch of 7."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    train = []
    for b in range(1, 6):
        labels = [(i + b) % 10 for i in range(20)]
        _cifar_batch(folder / f"data_batch_{b}", labels, "labels", b)
        train += labels
    test = [3, 1, 4, 1, 5, 9, 2]
    _cifar_batch(folder / "test_batch", test, "labels", 99)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"], "num_cases_per_batch": 20, "num_vis": 3072}, f, protocol=2)
    return {"train": [(f"train/{i}", y) for i, y in enumerate(train)],
            "test": [(f"test/{i}", y) for i, y in enumerate(test)]}


def make_cifar100(root: Path) -> Manifest:
    """``train`` with fine labels {0, 17, 99} x 10 images; ``test`` with 4 images."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    train = [(0, 17, 99)[i % 3] for i in range(30)]
    test = [99, 0, 17, 17]
    _cifar_batch(folder / "train", train, "fine_labels", 1, {"coarse_labels": [y // 5 for y in train]})
    _cifar_batch(folder / "test", test, "fine_labels", 2, {"coarse_labels": [y // 5 for y in test]})
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"fine{i}" for i in range(100)],
                     "coarse_label_names": [f"coarse{i}" for i in range(20)]}, f, protocol=2)
    return {"train": [(f"train/{i}", y) for i, y in enumerate(train)],
            "test": [(f"test/{i}", y) for i, y in enumerate(test)]}


# --------------------------------------------------------------------------- Food-101
FOOD_CLASSES = ("apple_pie", "baby_back_ribs", "beef_carpaccio")


def make_food101(root: Path) -> Manifest:
    """``food-101/meta/{train,test}.json`` + ``images/<class>/<id>.jpg``: 10 train + 2 test per class."""
    base = Path(root) / "food-101"
    manifest: Manifest = {}
    for split, n in (("train", 10), ("test", 2)):
        meta, rows = {}, []
        for c, cls in enumerate(FOOD_CLASSES):
            ids = [f"{cls}/{100000 + 37 * i + (0 if split == 'train' else 50000) + c}" for i in range(n)]
            meta[cls] = ids
            for k, rel in enumerate(ids):
                _image(base / "images" / f"{rel}.jpg", seed=10000 * (split == "test") + 100 * c + k)
                rows.append((f"food-101/images/{rel}.jpg", c))
        (base / "meta").mkdir(parents=True, exist_ok=True)
        (base / "meta" / f"{split}.json").write_text(json.dumps(meta))
        (base / "meta" / f"{split}.txt").write_text("\n".join(i for v in meta.values() for i in v) + "\n")
        manifest[split] = rows
    (base / "meta" / "classes.txt").write_text("\n".join(FOOD_CLASSES) + "\n")
    return manifest


# --------------------------------------------------------------------------- SUN397
SUN_CLASSES = ("/a/abbey", "/a/apartment_building/outdoor", "/b/bakery/shop")


def make_sun397(root: Path, *, with_partitions: bool = False, per_class: int = 6) -> Manifest:
    """``SUN397/ClassName.txt`` + ``SUN397/<letter>/<class>/sun_<id>.jpg`` (``per_class`` per class).
    With ``with_partitions``: ``SUN397/Partitions/{Training,Testing}_01.txt`` listing 4 train and 2
    test images per class (``/a/abbey/sun_x.jpg`` lines, as the official files), and a different
    partition 02 to catch a wrong partition number."""
    base = Path(root) / "SUN397"
    base.mkdir(parents=True, exist_ok=True)
    (base / "ClassName.txt").write_text("\n".join(SUN_CLASSES) + "\n")
    (base / "README.txt").write_text("not an image\n")
    rows, lines = [], {}
    for c, cls in enumerate(SUN_CLASSES):
        names = [f"sun_{chr(97 + c)}{k:03d}q.jpg" for k in range(per_class)]
        for k, name in enumerate(names):
            _image(base / cls.lstrip("/") / name, seed=1000 * c + k)
            rows.append((f"SUN397{cls}/{name}", c))
        lines[cls] = [f"{cls}/{n}" for n in names]
    manifest: Manifest = {"all": rows}
    if with_partitions:
        part = base / "Partitions"
        part.mkdir()
        train1 = [line for cls in SUN_CLASSES for line in lines[cls][:4]]
        test1 = [line for cls in SUN_CLASSES for line in lines[cls][4:6]]
        (part / "Training_01.txt").write_text("\n".join(train1) + "\n")
        (part / "Testing_01.txt").write_text("\n".join(test1) + "\n")
        (part / "Training_02.txt").write_text("\n".join(line for cls in SUN_CLASSES for line in lines[cls][2:6]) + "\n")
        (part / "Testing_02.txt").write_text("\n".join(line for cls in SUN_CLASSES for line in lines[cls][:2]) + "\n")
        label = {f"SUN397{line}": c for c, cls in enumerate(SUN_CLASSES) for line in lines[cls]}
        manifest["partition1_train"] = [(f"SUN397{line}", label[f"SUN397{line}"]) for line in train1]
        manifest["partition1_test"] = [(f"SUN397{line}", label[f"SUN397{line}"]) for line in test1]
    return manifest


# --------------------------------------------------------------------------- DTD
DTD_CLASSES = ("banded", "blotchy", "zigzagged")


def make_dtd(root: Path) -> Manifest:
    """``dtd/dtd/images/<class>/<class>_NNNN.jpg`` + ``labels/{train,val,test}{1,2}.txt``:
    6 images per class; partition 1 = 2 train / 1 val / 3 test per class, partition 2 differs."""
    base = Path(root) / "dtd" / "dtd"
    names = {cls: [f"{cls}_{k:04d}.jpg" for k in range(1, 7)] for cls in DTD_CLASSES}
    for c, cls in enumerate(DTD_CLASSES):
        for k, name in enumerate(names[cls]):
            _image(base / "images" / cls / name, seed=50 * c + k)
    (base / "labels").mkdir(parents=True, exist_ok=True)
    layout = {1: {"train": (0, 2), "val": (2, 3), "test": (3, 6)}, 2: {"train": (3, 5), "val": (5, 6), "test": (0, 3)}}
    manifest: Manifest = {}
    for partition, spans in layout.items():
        for split, (a, b) in spans.items():
            lines = [f"{cls}/{n}" for cls in DTD_CLASSES for n in names[cls][a:b]]
            (base / "labels" / f"{split}{partition}.txt").write_text("\n".join(lines) + "\n")
            if partition == 1:
                manifest[split] = [(f"dtd/dtd/images/{line}", DTD_CLASSES.index(line.split("/")[0]))
                                   for line in lines]
    (base / "labels" / "labels_joint_anno.txt").write_text("")
    return manifest


# --------------------------------------------------------------------------- Pets
PETS = (("Abyssinian", 1, 1), ("american_bulldog", 2, 2), ("Bengal", 6, 1))  # name, class id, species


def make_pets(root: Path) -> Manifest:
    """``oxford-iiit-pet/images/<Breed>_<n>.jpg`` + ``annotations/{trainval,test}.txt``
    (``<id> <class 1-37> <species 1-2> <breed id>``): 5 trainval + 2 test per breed."""
    base = Path(root) / "oxford-iiit-pet"
    (base / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    manifest: Manifest = {}
    for split, ks in (("trainval", range(1, 6)), ("test", range(100, 102))):
        lines, rows = [], []
        for name, cid, species in PETS:
            for k in ks:
                image_id = f"{name}_{k}"
                _image(base / "images" / f"{image_id}.jpg", seed=cid * 1000 + k)
                lines.append(f"{image_id} {cid} {species} {k % 12 + 1}")
                rows.append((f"oxford-iiit-pet/images/{image_id}.jpg", cid - 1))
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
        manifest[split] = rows
    return manifest


# --------------------------------------------------------------------------- FGVC Aircraft
AIRCRAFT_VARIANTS = ("707-320", "A300B4", "Cessna 172", "F-16A/B")
AIRCRAFT_FAMILIES = ("Boeing 707", "A300", "Cessna 172", "F-16")


def make_aircraft(root: Path) -> Manifest:
    """``fgvc-aircraft-2013b/data/{variants,families,manufacturers}.txt``,
    ``images_<level>_<split>.txt`` (``<7-digit id> <label>``) and ``images/<id>.jpg``;
    variant level: 4 train / 3 val / 5 test images. Family-level files list the same images in
    reverse order with family labels, so reading the wrong level changes order and labels."""
    data = Path(root) / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "variants.txt").write_text("\n".join(AIRCRAFT_VARIANTS) + "\n")
    (data / "families.txt").write_text("\n".join(AIRCRAFT_FAMILIES) + "\n")
    (data / "manufacturers.txt").write_text("Boeing\nAirbus\nCessna\nLockheed Martin\n")
    plan = {"train": [0, 1, 2, 3], "val": [3, 0, 2], "test": [1, 1, 3, 0, 2]}
    manifest: Manifest = {}
    n = 0
    for split, labels in plan.items():
        lines, rows = [], []
        for y in labels:
            image_id = f"{1025794 + 17 * n:07d}"
            n += 1
            _image(data / "images" / f"{image_id}.jpg", seed=n)
            lines.append(f"{image_id} {AIRCRAFT_VARIANTS[y]}")
            rows.append((f"fgvc-aircraft-2013b/data/images/{image_id}.jpg", y))
        (data / f"images_variant_{split}.txt").write_text("\n".join(lines) + "\n")
        family = [f"{line.split(' ', 1)[0]} {AIRCRAFT_FAMILIES[y]}" for line, y in zip(lines, labels)]
        (data / f"images_family_{split}.txt").write_text("\n".join(reversed(family)) + "\n")
        manifest[split] = rows
    (data / "images_variant_trainval.txt").write_text(
        (data / "images_variant_train.txt").read_text() + (data / "images_variant_val.txt").read_text())
    return manifest


# --------------------------------------------------------------------------- VOC2007
VOC_OBJECTS = {  # image id -> [(class name, difficult)]
    "000005": [("chair", 0), ("chair", 0), ("diningtable", 1)],
    "000007": [("car", 0)],
    "000009": [("horse", 0), ("person", 0), ("person", 0)],
    "000012": [("car", 0)],
    "000016": [("bicycle", 0)],
    "000001": [("dog", 0), ("person", 0)],
    "000002": [("train", 0)],
    "000003": [("sofa", 0), ("chair", 0)],
    "000004": [("car", 1), ("car", 0)],
}
VOC_SPLITS = {"train": ["000012", "000016", "000009"], "val": ["000005", "000007"],
              "test": ["000001", "000002", "000003", "000004"]}


def _voc_xml(image_id: str, objects: list[tuple[str, int]]) -> str:
    objs = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{diff}</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>6</xmax><ymax>7</ymax>"
        f"</bndbox></object>" for name, diff in objects)
    return (f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>"
            f"<source><database>The VOC2007 Database</database></source>"
            f"<size><width>8</width><height>8</height><depth>3</depth></size><segmented>0</segmented>"
            f"{objs}</annotation>")


def make_voc2007(root: Path) -> Manifest:
    """``VOCdevkit/VOC2007/{ImageSets/Main/<split>.txt, Annotations/<id>.xml, JPEGImages/<id>.jpg}``:
    3 train / 2 val / 4 test images; labels are the sets of object names (difficult included)."""
    from evaluations.transfer.datasets import VOC_CLASSES

    base = Path(root) / "VOCdevkit" / "VOC2007"
    main = base / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    (base / "Annotations").mkdir(parents=True, exist_ok=True)
    for k, (image_id, objects) in enumerate(VOC_OBJECTS.items()):
        _image(base / "JPEGImages" / f"{image_id}.jpg", seed=k)
        (base / "Annotations" / f"{image_id}.xml").write_text(_voc_xml(image_id, objects))
    manifest: Manifest = {}
    for split, ids in VOC_SPLITS.items():
        (main / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for cls in VOC_CLASSES:  # per-class files of the devkit (not read by torchvision)
            (main / f"{cls}_{split}.txt").write_text("\n".join(
                f"{i} {1 if any(n == cls for n, _ in VOC_OBJECTS[i]) else -1}" for i in ids) + "\n")
        manifest[split] = [(i, sorted({VOC_CLASSES.index(n) for n, _ in VOC_OBJECTS[i]})) for i in ids]
    (main / "trainval.txt").write_text("\n".join(VOC_SPLITS["train"] + VOC_SPLITS["val"]) + "\n")
    return manifest


# --------------------------------------------------------------------------- Flowers102
def make_flowers(root: Path) -> Manifest:
    """``flowers-102/jpg/image_NNNNN.jpg`` + ``imagelabels.mat`` (``labels`` 1..102, shape [1, N])
    + ``setid.mat`` (``trnid``/``valid``/``tstid``, shape [1, n]): 4 / 3 / 5 images."""
    from scipy.io import savemat

    base = Path(root) / "flowers-102"
    labels = np.array([[77, 5, 5, 77, 1, 1, 77, 5, 1, 1, 5, 77]], dtype=np.uint8)  # image k has labels[0, k-1]
    for k in range(1, labels.shape[1] + 1):
        _image(base / "jpg" / f"image_{k:05d}.jpg", seed=k)
    setid = {"trnid": [12, 1, 5, 3], "valid": [2, 9, 4], "tstid": [6, 7, 8, 10, 11]}
    savemat(base / "imagelabels.mat", {"labels": labels})
    savemat(base / "setid.mat", {k: np.array([v], dtype=np.uint16) for k, v in setid.items()})
    names = {"train": "trnid", "val": "valid", "test": "tstid"}
    return {split: [(f"flowers-102/jpg/image_{i:05d}.jpg", int(labels[0, i - 1]) - 1) for i in setid[key]]
            for split, key in names.items()}


# --------------------------------------------------------------------------- Caltech-101
CALTECH_COUNTS = {"BACKGROUND_Google": 3, "Faces": 31, "accordion": 33, "airplanes": 32}


def make_caltech101(root: Path) -> Manifest:
    """``caltech101/101_ObjectCategories/<category>/image_NNNN.jpg`` (numbered from 1, as
    torchvision indexes them) + ``caltech101/Annotations/<category>/annotation_NNNN.mat`` for one
    image; BACKGROUND_Google is present (torchvision removes it); ``accordion`` is greyscale."""
    from scipy.io import savemat

    base = Path(root) / "caltech101"
    rows = []
    label = 0
    for cat, n in CALTECH_COUNTS.items():
        for k in range(1, n + 1):
            _image(base / "101_ObjectCategories" / cat / f"image_{k:04d}.jpg", seed=1000 * list(CALTECH_COUNTS).index(cat) + k,
                   mode="L" if cat == "accordion" else "RGB")
            if cat != "BACKGROUND_Google":
                rows.append((f"{cat}/image_{k:04d}.jpg", label))
        label += cat != "BACKGROUND_Google"
    (base / "Annotations" / "Faces_2").mkdir(parents=True, exist_ok=True)
    savemat(base / "Annotations" / "Faces_2" / "annotation_0001.mat",
            {"obj_contour": np.zeros((2, 4)), "box_coord": np.array([[1, 6, 1, 6]])})
    return {"all": rows}


BUILDERS = {
    "cifar10": make_cifar10, "cifar100": make_cifar100, "food101": make_food101, "sun397": make_sun397,
    "dtd": make_dtd, "pets": make_pets, "aircraft": make_aircraft, "voc2007": make_voc2007,
    "flowers": make_flowers, "caltech101": make_caltech101,
}


def make_all(root: Path) -> dict[str, Manifest]:
    """Every replica under one data root (SUN397 without partition files), marked as a miniature."""
    manifests = {name: build(Path(root)) for name, build in BUILDERS.items()}
    (Path(root) / MARKER).write_text(json.dumps({"written_by": __name__, "datasets": sorted(manifests)}) + "\n")
    return manifests

