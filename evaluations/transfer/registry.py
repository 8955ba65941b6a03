"""The transfer datasets of Table 1: which torchvision class reads each, its split rule, metric and
the files it needs; the presence check, the explicit download and the image folders to check.

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

The stand-ins (generated sets, :mod:`evaluations.transfer.standins`) share the lookups here
(:func:`spec_of`, :func:`metric_of`, :func:`check_present`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from torchvision import datasets as tvd

from evaluations.transfer.standins import STANDINS, StandinSpec

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
