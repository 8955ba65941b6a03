"""The ten transfer datasets of Table 1, and three generated stand-ins for the offline tiny profile.

Every real dataset is read with torchvision's own class from a user-given root, ``download=False``
always: a missing dataset raises :class:`FileNotFoundError` naming the exact path expected under the
root and how to obtain it. Nothing here downloads unless :func:`download` is called explicitly
(the DAG's ``download_data`` job does, in a profile that asks for it).

Splits follow Kornblith et al. 2019 (Appendix, Table of dataset sizes), which SimCLR reuses:
the regulariser is chosen on ``val``, the classifier is refit on ``train`` + ``val`` (``trainval``)
and scored once on ``test``.

=========== ================================ ===================================================
dataset     metric                           splits (train / val / test)
=========== ================================ ===================================================
cifar10     top1                             official train minus a seeded class-stratified 10 %
                                             hold-out (45,000 / 5,000) / official test (10,000)
cifar100    top1                             same scheme (45,000 / 5,000 / 10,000)
food101     top1                             official train minus a seeded stratified 10 % hold-out
                                             (68,175 / 7,575) / official test (25,250)
sun397      top1                             official partition 1 when its files are present
                                             (``<root>/SUN397/Partitions/Training_01.txt`` and
                                             ``Testing_01.txt``): 50 train + 50 test images per
                                             class, val = seeded stratified 20 % of the train part
                                             (15,880 / 3,970 / 19,850). Without those files (the
                                             torchvision archive has none): a seeded per-class
                                             split of the same sizes (50 + 50 per class, drawn
                                             from the sorted file list), with a warning.
dtd         top1                             official partition 1: train1 / val1 / test1
                                             (1,880 each)
pets        mean_per_class                   official trainval minus a seeded stratified 20 %
                                             hold-out (about 2,940 / 740) / official test (3,669)
aircraft    mean_per_class                   official variant-level train / val / test
                                             (3,334 / 3,333 / 3,333; 100 classes)
voc2007     map11 (20 classes, multi-label)  official train / val / test (2,501 / 2,510 / 4,952)
flowers     mean_per_class                   official trnid / valid / tstid (1,020 / 1,020 / 6,149)
caltech101  mean_per_class                   seeded: 30 images per class for train+val (25 train +
                                             5 val), all the rest test. torchvision drops the
                                             BACKGROUND_Google class, so 101 classes: 2,525 /
                                             505 / 5,647 (Kornblith kept it: 102 classes, 2,550 /
                                             510 / 6,084).
=========== ================================ ===================================================

Seeded splits draw from ``numpy.random.default_rng(seed)`` (``seed=0`` by default) over the
dataset's own (sorted) sample order, class by class, so they are the same on every machine; each
class keeps ``round(fraction * n_class)`` of its images for val (at least one, never all). The
stratification reproduces Kornblith's val sizes exactly for CIFAR, Food-101 and SUN397.

VOC2007 multi-label targets: a 0/1 float vector over the 20 classes (alphabetical, as the devkit),
1 where the image's XML annotation names at least one object of the class, difficult objects
included (the devkit would mark a class present only through difficult objects as "0, ignored";
here it counts as present).

Stand-ins (:data:`STANDINS`) are read from a tree the project generates
(:func:`evaluations.transfer.standins.build_standins`)::

    <root>/<name>/{train,val,test}/<class>/<file>.png          single-label (ImageFolder)
    <root>/<name>/{train,val,test}/images/<file>.png           multi-label images
    <root>/<name>/{train,val,test}/labels.csv                  header ``file,<class 1>,..``;
                                                               one row per image, 0/1 columns
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union
from xml.etree.ElementTree import parse as xml_parse

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets as tvd
from torchvision.transforms import v2

from evaluations.transfer.paper_standins import RECIPES as PAPER_RECIPES

SPLITS = ("train", "val", "trainval", "test")
METRICS = ("top1", "mean_per_class", "map11")
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
DEFAULT_SEED = 0


# --------------------------------------------------------------------------- split rules
@dataclass(frozen=True)
class Official:
    """Each split is the torchvision split named in the spec's ``tv_kwargs``, used whole."""


@dataclass(frozen=True)
class HoldOutVal:
    """``train``/``val``: a seeded class-stratified hold-out of ``fraction`` of the torchvision
    source named by ``tv_kwargs['train']``; ``test`` is the official test split."""

    fraction: float


@dataclass(frozen=True)
class PerClassTrain:
    """One torchvision dataset, split per class: ``n_trainval`` seeded images for train+val (of
    which ``n_val`` are val), every other image is test (Caltech-101 in Kornblith / SimCLR)."""

    n_trainval: int = 30
    n_val: int = 5


@dataclass(frozen=True)
class SunPartition:
    """SUN397: official partition ``partition`` (``Training_NN.txt`` / ``Testing_NN.txt`` under
    ``<root>/SUN397/Partitions``) if present, else a seeded per-class draw of ``n_train`` +
    ``n_test`` images; val = seeded stratified ``val_fraction`` of the train part."""

    partition: int = 1
    n_train: int = 50
    n_test: int = 50
    val_fraction: float = 0.2


SplitRule = Union[Official, HoldOutVal, PerClassTrain, SunPartition]


@dataclass(frozen=True)
class DatasetSpec:
    """One transfer dataset. ``tv_kwargs`` maps each of train/val/test to the keyword arguments of
    ``tv_class`` (besides ``root``, ``transform`` and ``download``) of the source it is drawn
    from; ``rule`` says how. ``required`` are paths relative to the data root that must exist."""

    name: str
    tv_class: type
    tv_kwargs: dict[str, dict[str, Any]]
    rule: SplitRule
    metric: str
    num_classes: int
    split_scheme: str
    required: tuple[str, ...]
    obtain: str
    multilabel: bool = False


def _cifar_files(folder: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{folder}/{n}" for n in names)


REGISTRY: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(
        name="cifar10", tv_class=tvd.CIFAR10,
        tv_kwargs={"train": {"train": True}, "val": {"train": True}, "test": {"train": False}},
        rule=HoldOutVal(0.1), metric="top1", num_classes=10,
        split_scheme="official train minus seeded stratified 10% val (45,000/5,000); official test",
        required=_cifar_files("cifar-10-batches-py", (
            "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
            "test_batch", "batches.meta")),
        obtain="torchvision.datasets.CIFAR10(root, download=True), or extract "
               "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz into root",
    ),
    "cifar100": DatasetSpec(
        name="cifar100", tv_class=tvd.CIFAR100,
        tv_kwargs={"train": {"train": True}, "val": {"train": True}, "test": {"train": False}},
        rule=HoldOutVal(0.1), metric="top1", num_classes=100,
        split_scheme="official train minus seeded stratified 10% val (45,000/5,000); official test",
        required=_cifar_files("cifar-100-python", ("train", "test", "meta")),
        obtain="torchvision.datasets.CIFAR100(root, download=True), or extract "
               "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz into root",
    ),
    "food101": DatasetSpec(
        name="food101", tv_class=tvd.Food101,
        tv_kwargs={"train": {"split": "train"}, "val": {"split": "train"}, "test": {"split": "test"}},
        rule=HoldOutVal(0.1), metric="top1", num_classes=101,
        split_scheme="official train minus seeded stratified 10% val (68,175/7,575); official test",
        required=("food-101/meta/train.json", "food-101/meta/test.json", "food-101/images"),
        obtain="torchvision.datasets.Food101(root, download=True), or extract "
               "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz into root",
    ),
    "sun397": DatasetSpec(
        name="sun397", tv_class=tvd.SUN397,
        tv_kwargs={"train": {}, "val": {}, "test": {}},
        rule=SunPartition(), metric="top1", num_classes=397,
        split_scheme="official partition 1 if SUN397/Partitions/{Training,Testing}_01.txt exist, "
                     "else seeded 50+50 per class; val = seeded stratified 20% of train",
        required=("SUN397/ClassName.txt",),
        obtain="torchvision.datasets.SUN397(root, download=True), or extract "
               "http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz into root; for the official "
               "partition also unzip https://vision.princeton.edu/projects/2010/SUN/download/Partitions.zip "
               "into root/SUN397/Partitions",
    ),
    "dtd": DatasetSpec(
        name="dtd", tv_class=tvd.DTD,
        tv_kwargs={s: {"split": s, "partition": 1} for s in ("train", "val", "test")},
        rule=Official(), metric="top1", num_classes=47,
        split_scheme="official partition 1: train1/val1/test1",
        required=("dtd/dtd/labels/train1.txt", "dtd/dtd/labels/val1.txt", "dtd/dtd/labels/test1.txt",
                  "dtd/dtd/images"),
        obtain="torchvision.datasets.DTD(root, download=True), or extract "
               "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz into root/dtd",
    ),
    "pets": DatasetSpec(
        name="pets", tv_class=tvd.OxfordIIITPet,
        tv_kwargs={"train": {"split": "trainval"}, "val": {"split": "trainval"}, "test": {"split": "test"}},
        rule=HoldOutVal(0.2), metric="mean_per_class", num_classes=37,
        split_scheme="official trainval minus seeded stratified 20% val; official test",
        required=("oxford-iiit-pet/annotations/trainval.txt", "oxford-iiit-pet/annotations/test.txt",
                  "oxford-iiit-pet/images"),
        obtain="torchvision.datasets.OxfordIIITPet(root, download=True), or extract images.tar.gz and "
               "annotations.tar.gz of https://www.robots.ox.ac.uk/~vgg/data/pets/ into root/oxford-iiit-pet",
    ),
    "aircraft": DatasetSpec(
        name="aircraft", tv_class=tvd.FGVCAircraft,
        tv_kwargs={s: {"split": s, "annotation_level": "variant"} for s in ("train", "val", "test")},
        rule=Official(), metric="mean_per_class", num_classes=100,
        split_scheme="official variant-level train/val/test",
        required=("fgvc-aircraft-2013b/data/variants.txt",
                  "fgvc-aircraft-2013b/data/images_variant_train.txt",
                  "fgvc-aircraft-2013b/data/images_variant_val.txt",
                  "fgvc-aircraft-2013b/data/images_variant_test.txt",
                  "fgvc-aircraft-2013b/data/images"),
        obtain="torchvision.datasets.FGVCAircraft(root, download=True), or extract "
               "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz into root",
    ),
    "voc2007": DatasetSpec(
        name="voc2007", tv_class=tvd.VOCDetection,
        tv_kwargs={s: {"year": "2007", "image_set": s} for s in ("train", "val", "test")},
        rule=Official(), metric="map11", num_classes=20, multilabel=True,
        split_scheme="official train/val/test; targets = object names of the XML (difficult included)",
        required=("VOCdevkit/VOC2007/ImageSets/Main/train.txt", "VOCdevkit/VOC2007/ImageSets/Main/val.txt",
                  "VOCdevkit/VOC2007/ImageSets/Main/test.txt", "VOCdevkit/VOC2007/Annotations",
                  "VOCdevkit/VOC2007/JPEGImages"),
        obtain="torchvision.datasets.VOCDetection(root, year='2007', image_set='trainval', download=True) "
               "and the same with image_set='test' (two archives: "
               "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar and "
               "VOCtest_06-Nov-2007.tar, both extracted into root)",
    ),
    "flowers": DatasetSpec(
        name="flowers", tv_class=tvd.Flowers102,
        tv_kwargs={s: {"split": s} for s in ("train", "val", "test")},
        rule=Official(), metric="mean_per_class", num_classes=102,
        split_scheme="official setid.mat trnid/valid/tstid",
        required=("flowers-102/jpg", "flowers-102/imagelabels.mat", "flowers-102/setid.mat"),
        obtain="torchvision.datasets.Flowers102(root, download=True), or from "
               "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat, "
               "setid.mat) into root/flowers-102",
    ),
    "caltech101": DatasetSpec(
        name="caltech101", tv_class=tvd.Caltech101,
        tv_kwargs={"train": {}, "val": {}, "test": {}},
        rule=PerClassTrain(30, 5), metric="mean_per_class", num_classes=101,
        split_scheme="seeded 30 images per class for train+val (25 train + 5 val), rest test; "
                     "101 classes (torchvision drops BACKGROUND_Google)",
        required=("caltech101/101_ObjectCategories",),
        obtain="torchvision.datasets.Caltech101(root, download=True), or extract "
               "101_ObjectCategories.tar.gz of https://data.caltech.edu/records/mzrjq-6wc02 into root/caltech101",
    ),
}


# --------------------------------------------------------------------------- stand-ins
@dataclass(frozen=True)
class StandinSpec:
    """A generated dataset read from ``<root>/<name>/{train,val,test}`` (official splits)."""

    name: str
    metric: str
    multilabel: bool
    description: str
    split_scheme: str = "generated train/val/test"
    stands_for: str = ""  # the paper dataset whose row it fills (Table 1, claims), "" for none


STANDINS: dict[str, StandinSpec] = {
    "shapes_top1": StandinSpec(
        "shapes_top1", "top1", False,
        "balanced shapes: the class is the main object's shape (multi-class, like CIFAR/DTD)"),
    "shapes_mpc": StandinSpec(
        "shapes_mpc", "mean_per_class", False,
        "long-tailed shapes: class frequencies fall geometrically, so mean per-class accuracy "
        "differs from top-1 (like Pets/Flowers/Caltech)"),
    "shapes_multilabel": StandinSpec(
        "shapes_multilabel", "map11", True,
        "every shape kind drawn in the image is a positive label (main object and distractors; "
        "like VOC2007)"),
}
# One stand-in per paper dataset, shapes_<dataset> (evaluations.transfer.paper_standins).
STANDINS.update({
    f"shapes_{d}": StandinSpec(f"shapes_{d}", r.metric, r.multilabel, r.mimics, stands_for=d)
    for d, r in PAPER_RECIPES.items()
})


def stands_for(name: str) -> str:
    """The paper dataset ``name`` reports as: itself, or the one its stand-in stands for."""
    spec = STANDINS.get(name)
    return spec.stands_for if spec is not None and spec.stands_for else name


def spec_of(name: str) -> DatasetSpec | StandinSpec:
    if name in REGISTRY:
        return REGISTRY[name]
    if name in STANDINS:
        return STANDINS[name]
    raise KeyError(f"unknown transfer dataset {name!r}: one of {sorted(REGISTRY) + sorted(STANDINS)}")


def metric_of(name: str) -> str:
    return spec_of(name).metric


# --------------------------------------------------------------------------- presence checks
def check_present(name: str, root: str | Path) -> None:
    """Raise :class:`FileNotFoundError` naming the first missing required path and how to get it.

    Runs before any torchvision class is built (``Caltech101`` would otherwise create its folder)."""
    root = Path(root)
    if name in STANDINS:
        for split in ("train", "val", "test"):
            path = root / name / split
            if STANDINS[name].multilabel:
                path = path / "labels.csv"
            if not path.exists():
                raise FileNotFoundError(
                    f"transfer stand-in {name!r} not found: expected {path}. Generate it with "
                    f"evaluations.transfer.standins.build_standins({str(root)!r}) "
                    f"(nothing is generated or downloaded automatically)")
        return
    spec = REGISTRY[name]
    for rel in spec.required:
        path = root / rel
        if not path.exists():
            raise FileNotFoundError(
                f"transfer dataset {name!r} not found: expected {path} (data root {root}). "
                f"Obtain it with {spec.obtain}; or call evaluations.transfer.datasets.download("
                f"{name!r}, {str(root)!r}). Nothing is downloaded automatically.")


def download(name: str, root: str | Path) -> None:
    """Download ``name`` into ``root`` through its torchvision class (``download=True``).

    Only called on explicit request: by the DAG's ``download_data`` job in a profile that sets
    ``eval.transfer.download`` (the cifar profile), or by hand. The SUN397 official partition files
    are not part of the torchvision archive (see the spec's ``obtain``)."""
    spec = REGISTRY[name]
    seen: list[dict] = []
    for split in ("train", "val", "test"):
        kwargs = spec.tv_kwargs[split]
        if kwargs in seen:
            continue
        seen.append(kwargs)
        spec.tv_class(str(root), download=True, **kwargs)  # VOC: train/val fetch the trainval archive, test its own


def image_folders(name: str, root: str | Path) -> list[Path]:
    """The folders holding ``name``'s image files under ``root``, for the check that decodes
    them all once (:func:`ssl_core.datasets.check.check_images`): a stand-in's tree; a real set's
    required folders (e.g. ``dtd/dtd/images``), else its top folder (SUN397; CIFAR's pickles hold
    no image files). Fails as :func:`check_present` where the set is missing."""
    check_present(name, root)
    root = Path(root)
    if name in STANDINS:
        return [root / name]
    folders = [root / rel for rel in REGISTRY[name].required if (root / rel).is_dir()]
    return folders or [root / Path(REGISTRY[name].required[0]).parts[0]]


def download_once(name: str, root: str | Path, marker: str | Path) -> None:
    """:func:`download` then :func:`check_present`, then the ``marker`` (the DAG's
    ``download_data`` output, which every job reading ``name`` waits for)."""
    from ssl_core.io import write_json

    download(name, root)
    check_present(name, root)
    write_json(marker, {"dataset": name, "root": str(root)})


# --------------------------------------------------------------------------- the split dataset
class VocLabels:
    """``target_transform`` of VOCDetection: parsed XML dict -> 0/1 float vector over 20 classes."""

    def __init__(self, classes: tuple[str, ...] = VOC_CLASSES):
        self.index = {c: i for i, c in enumerate(classes)}
        self.n = len(classes)

    def __call__(self, target: dict) -> torch.Tensor:
        y = torch.zeros(self.n, dtype=torch.float32)
        objects = target["annotation"].get("object", [])
        if isinstance(objects, dict):
            objects = [objects]
        for obj in objects:
            y[self.index[obj["name"].strip()]] = 1.0
        return y


def default_transform() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


@dataclass
class _Segment:
    base: Any
    indices: np.ndarray
    ids: list[str]
    labels: np.ndarray | None  # single-label targets of the selected samples, None for multi-label


class TransferSplit(Dataset):
    """One split: ``(image_tensor, target)`` items, ``target`` an int (single-label) or a 0/1 float
    vector (multi-label). ``ids`` names every sample stably (relative file paths); ``fingerprint``
    hashes the selection, so caches keyed on it change when the split does."""

    def __init__(self, name: str, split: str, segments: list[_Segment], transform: Callable | None,
                 multilabel: bool, metric: str, source: str, seed: int):
        self.name, self.split, self.segments = name, split, segments
        self.transform = transform if transform is not None else default_transform()
        self.multilabel, self.metric, self.source, self.seed = multilabel, metric, source, seed
        self._ends = np.cumsum([len(s.indices) for s in segments]).tolist()
        self.ids = [i for s in segments for i in s.ids]

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        if i < 0:
            i += len(self)
        k = bisect_right(self._ends, i)
        seg = self.segments[k]
        image, target = seg.base[int(seg.indices[i - (self._ends[k - 1] if k else 0)])]
        if isinstance(image, Image.Image) and image.mode != "RGB":
            image = image.convert("RGB")  # Caltech101 returns some greyscale images as they are
        if self.multilabel:
            target = torch.as_tensor(target, dtype=torch.float32)
        else:
            target = int(target)
        return self.transform(image), target

    @property
    def targets(self) -> list[int] | torch.Tensor:
        """All targets without decoding images: a list of ints, or an ``[N, C]`` float tensor."""
        if not self.multilabel:
            return [int(t) for s in self.segments for t in s.labels]
        rows = []
        for seg in self.segments:
            rows.extend(_multilabel_targets(seg.base, seg.indices))
        return torch.stack(rows) if rows else torch.zeros(0)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.name, self.split, self.source, len(self)]).encode())
        for sid in self.ids:
            h.update(sid.encode())
            h.update(b"\0")
        return h.hexdigest()


def _multilabel_targets(base: Any, indices: np.ndarray) -> list[torch.Tensor]:
    if isinstance(base, tvd.VOCDetection):
        return [base.target_transform(base.parse_voc_xml(xml_parse(base.annotations[int(i)]).getroot()))
                for i in indices]
    return [base.targets[int(i)] for i in indices]


# --------------------------------------------------------------------------- helpers on bases
def _base_labels(base: Any) -> np.ndarray:
    if isinstance(base, tvd.CIFAR10):
        return np.asarray(base.targets, dtype=np.int64)
    if isinstance(base, tvd.Caltech101):
        return np.asarray(base.y, dtype=np.int64)
    if isinstance(base, tvd.ImageFolder):
        return np.asarray(base.targets, dtype=np.int64)
    return np.asarray(base._labels, dtype=np.int64)


def _base_ids(base: Any, root: Path) -> list[str]:
    if isinstance(base, tvd.CIFAR10):
        part = "train" if base.train else "test"
        return [f"{part}/{i}" for i in range(len(base))]
    if isinstance(base, tvd.Caltech101):
        return [f"{base.categories[y]}/image_{k:04d}.jpg" for y, k in zip(base.y, base.index)]
    if isinstance(base, tvd.VOCDetection):
        return [Path(p).stem for p in base.images]
    if isinstance(base, tvd.ImageFolder):
        return [Path(p).relative_to(base.root).as_posix() for p, _ in base.samples]
    if isinstance(base, MultiLabelFolder):
        return list(base.files)
    if isinstance(base, tvd.OxfordIIITPet):
        files = base._images
    else:
        files = base._image_files
    return [Path(os.path.relpath(f, root)).as_posix() for f in files]


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, val)`` into ``labels``: per class (ascending), a seeded permutation;
    ``round(fraction * n_c)`` go to val (at least 1 and at most ``n_c - 1`` when ``n_c >= 2``)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(np.floor(fraction * len(idx) + 0.5))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _per_class(labels: np.ndarray, order: np.ndarray, seed: int, n_first: int, *,
               strict: bool, n_second: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per class, in ``order`` (a permutation of positions giving the canonical sample order), a
    seeded permutation; the first ``n_first`` positions go to part one, the next ``n_second``
    (default: all the rest) to part two."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    ordered_labels = labels[order]
    for c in np.unique(labels):
        idx = rng.permutation(order[ordered_labels == c])
        if strict and len(idx) <= n_first:
            raise ValueError(f"class {c} has {len(idx)} images, needs more than {n_first}")
        k = n_first if strict else min(n_first, len(idx) // 2)
        rest = idx[k:] if n_second is None else idx[k:k + (n_second if strict else min(n_second, len(idx) - k))]
        first.append(idx[:k])
        second.append(rest)
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def _sun_partition_files(root: Path, partition: int) -> tuple[Path, Path] | None:
    folder = root / "SUN397" / "Partitions"
    train, test = folder / f"Training_{partition:02d}.txt", folder / f"Testing_{partition:02d}.txt"
    return (train, test) if train.is_file() and test.is_file() else None


def _read_partition(path: Path, position: dict[str, int]) -> np.ndarray:
    out = []
    for line in path.read_text().split():
        rel = line.strip().lstrip("/")
        if rel not in position:
            raise FileNotFoundError(f"{path} lists {rel}, which is not under {path.parents[1]}")
        out.append(position[rel])
    return np.sort(np.asarray(out, dtype=np.int64))


# --------------------------------------------------------------------------- loading
def _make_base(spec: DatasetSpec, root: Path, kwargs: dict[str, Any]) -> Any:
    from evaluations.transfer.replicas import miniature_integrity

    extra = {"target_transform": VocLabels()} if spec.multilabel else {}
    with miniature_integrity(root):  # the project's miniature trees (paper_smoke): no md5 to match
        return spec.tv_class(str(root), download=False, **kwargs, **extra)


def _segment(base: Any, positions: np.ndarray, root: Path, multilabel: bool) -> _Segment:
    ids = _base_ids(base, root)
    labels = None if multilabel else _base_labels(base)[positions]
    return _Segment(base, np.asarray(positions, dtype=np.int64), [ids[i] for i in positions], labels)


def _real_segments(spec: DatasetSpec, root: Path, split: str, seed: int) -> tuple[list[_Segment], str]:
    rule = spec.rule
    parts = ("train", "val") if split == "trainval" else (split,)
    bases: dict[str, Any] = {}

    def base_for(part: str) -> Any:
        key = json.dumps(spec.tv_kwargs[part], sort_keys=True)
        if key not in bases:
            bases[key] = _make_base(spec, root, spec.tv_kwargs[part])
        return bases[key]

    segments, source = [], type(rule).__name__
    if isinstance(rule, HoldOutVal):
        source = f"HoldOutVal({rule.fraction}, seed={seed})"
    for part in parts:
        base = base_for(part)
        if isinstance(rule, Official) or (isinstance(rule, HoldOutVal) and part == "test"):
            positions = np.arange(len(base))
        elif isinstance(rule, HoldOutVal):
            train, val = stratified_holdout(_base_labels(base), rule.fraction, seed)
            positions = train if part == "train" else val
        elif isinstance(rule, PerClassTrain):
            labels = _base_labels(base)
            trainval, test = _per_class(labels, np.arange(len(labels)), seed, rule.n_trainval, strict=True)
            if part == "test":
                positions = test
            else:
                # round(5/30 * 30) = 5 val images per class, the other 25 train
                rel_train, rel_val = stratified_holdout(labels[trainval], rule.n_val / rule.n_trainval, seed + 1)
                positions = trainval[rel_val] if part == "val" else trainval[rel_train]
            source = f"PerClassTrain({rule.n_trainval},{rule.n_val}, seed={seed})"
        elif isinstance(rule, SunPartition):
            ids = _base_ids(base, root / "SUN397")
            order = np.argsort(np.asarray(ids), kind="stable")  # rglob's order is the filesystem's
            labels = _base_labels(base)
            files = _sun_partition_files(root, rule.partition)
            if files is not None:
                position = {sid: i for i, sid in enumerate(ids)}
                pool, test = (_read_partition(f, position) for f in files)
                source = f"SUN397 official partition {rule.partition} (val seed={seed})"
            else:
                warnings.warn(
                    f"SUN397: no official partition files under {root / 'SUN397' / 'Partitions'}; "
                    f"using a seeded per-class split of {rule.n_train}+{rule.n_test} images (seed={seed})",
                    stacklevel=3)
                pool, test = _per_class(labels, order, seed, rule.n_train, strict=False, n_second=rule.n_test)
                source = f"SUN397 seeded {rule.n_train}+{rule.n_test} per class (seed={seed})"
            if part == "test":
                positions = test
            else:
                tr, va = stratified_holdout(labels[pool], rule.val_fraction, seed)
                positions = pool[tr] if part == "train" else pool[va]
            positions = positions[np.argsort(np.asarray(ids)[positions], kind="stable")]  # sorted by file
        else:  # pragma: no cover
            raise TypeError(rule)
        segments.append(_segment(base, positions, root, spec.multilabel))
    return segments, source


class MultiLabelFolder(Dataset):
    """``<split>/labels.csv`` (header ``file,<class 1>,..,<class K>``, 0/1 columns; ``file``
    relative to ``<split>``) -> ``(PIL RGB image, float tensor [K])``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        with open(self.root / "labels.csv", newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], [r for r in rows[1:] if r]
        if header[0] != "file":
            raise ValueError(f"{self.root / 'labels.csv'}: first column must be 'file', got {header[0]!r}")
        self.classes = header[1:]
        self.files = [r[0] for r in body]
        self.targets = [torch.tensor([float(v) for v in r[1:]], dtype=torch.float32) for r in body]
        for r, t in zip(body, self.targets):
            if len(t) != len(self.classes) or not bool(((t == 0) | (t == 1)).all()):
                raise ValueError(f"{self.root / 'labels.csv'}: bad row {r}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Image.Image, torch.Tensor]:
        with open(self.root / self.files[i], "rb") as f:
            image = Image.open(f).convert("RGB")
        return image, self.targets[i]


def _standin_segments(spec: StandinSpec, root: Path, split: str) -> list[_Segment]:
    segments = []
    for part in (("train", "val") if split == "trainval" else (split,)):
        folder = root / spec.name / part
        base = MultiLabelFolder(folder) if spec.multilabel else tvd.ImageFolder(str(folder))
        segments.append(_segment(base, np.arange(len(base)), root, spec.multilabel))
    return segments


def load_split(name: str, root: str | Path, split: str, transform: Callable | None = None, *,
               seed: int = DEFAULT_SEED) -> TransferSplit:
    """The ``split`` (train, val, trainval or test) of dataset ``name`` under data ``root``.

    Items are ``(transform(RGB image), target)``; ``transform`` defaults to a float tensor in
    [0, 1]. ``seed`` fixes the seeded splits (it is part of :meth:`TransferSplit.fingerprint`)."""
    spec = spec_of(name)
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: one of {SPLITS}")
    root = Path(root)
    check_present(name, root)
    if isinstance(spec, StandinSpec):
        segments, source = _standin_segments(spec, root, split), "generated"
    else:
        segments, source = _real_segments(spec, root, split, seed)
    return TransferSplit(name, split, segments, transform, spec.multilabel, spec.metric, source, seed)
