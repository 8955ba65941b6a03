"""Every transfer stand-in in one place: the registry (:data:`STANDINS`) and the builder.

Two kinds, told apart by their names: the three **generic** stand-ins of the tiny profile
(:data:`GENERIC_STANDINS`: ``shapes_top1``, ``shapes_mpc``, ``shapes_multilabel``, one per metric,
standing for no paper dataset), and the ten **paper** stand-ins of the small profile
(:data:`PAPER_STANDINS`: ``shapes_<dataset>``, each standing for that dataset of Table 1, its recipe
in :mod:`evaluations.transfer.paper_standins`). Neither is a miniature of a real dataset's layout
(those are :mod:`evaluations.transfer.replicas`).

The generic stand-ins are built from the project's shapes renderer.

Each image is drawn by :func:`ssl_core.datasets.shapes.render_sample` as the pretraining images are
(a light grey main object whose shape is the class on a dark textured background; the multi-label
stand-in adds 0-2 smaller mid-grey distractors of other shapes), from
``numpy.random.default_rng([seed, 1729, standin, split, i])``: a stream disjoint from the
pretraining shapes data (``[seed, split, i]``), so no stand-in image is a pretraining image.

- ``shapes_top1``: class = main shape, balanced (``i % n_classes``); metric top-1.
- ``shapes_mpc``: class = main shape, long-tailed (class ``c`` has weight ``tail ** c``, at least
  one image per class and split); metric mean per-class accuracy.
- ``shapes_multilabel``: labels = every shape kind drawn (main object and distractors), 0/1 in
  ``labels.csv``; main shapes balanced; metric 11-point mAP.

Layouts are those :func:`evaluations.transfer.datasets.load_split` reads. Each dataset is written to a
temporary folder and moved into place with ``os.replace``; ``meta.json`` (written last) records
the arguments, and an existing complete dataset with the same arguments is left untouched.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluations.transfer.paper_standins import FORMAT_VERSION as PAPER_FORMAT_VERSION
from evaluations.transfer.paper_standins import RECIPES
from ssl_core.datasets.shapes import SHAPE_CLASSES, render_sample


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
GENERIC_STANDINS: tuple[str, ...] = tuple(STANDINS)  # the tiny profile's three
# One stand-in per paper dataset, shapes_<dataset> (evaluations.transfer.paper_standins).
STANDINS.update({
    f"shapes_{d}": StandinSpec(f"shapes_{d}", r.metric, r.multilabel, r.mimics, stands_for=d)
    for d, r in RECIPES.items()
})
PAPER_STANDINS: tuple[str, ...] = tuple(n for n in STANDINS if n not in GENERIC_STANDINS)


def stands_for(name: str) -> str:
    """The paper dataset ``name`` reports as: itself, or the one its stand-in stands for."""
    spec = STANDINS.get(name)
    return spec.stands_for if spec is not None and spec.stands_for else name


STANDIN_STREAM = 1729
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
FORMAT_VERSION = 2
MULTILABEL_DISTRACTORS = 2  # the other stand-ins have none, as the pretraining images


def long_tail_counts(n: int, n_classes: int, tail: float) -> list[int]:
    """Images per class for ``n`` images with weights ``tail ** c``: at least one per class,
    the rounding remainder to the head class."""
    if n < n_classes:
        raise ValueError(f"{n} images cannot cover {n_classes} classes")
    w = tail ** np.arange(n_classes)
    counts = np.maximum(1, np.floor(n * w / w.sum()).astype(int))
    counts[0] += n - counts.sum()
    return counts.tolist()


def _categories(name: str, n: int, n_classes: int, tail: float) -> list[int]:
    if name == "shapes_mpc":
        return [c for c, k in enumerate(long_tail_counts(n, n_classes, tail)) for _ in range(k)]
    return [i % n_classes for i in range(n)]


def _write(out: Path, name: str, sizes: dict[str, int], image_size: int, n_classes: int, seed: int,
           tail: float) -> None:
    classes = SHAPE_CLASSES[:n_classes]
    standin = list(STANDINS).index(name)
    multilabel = STANDINS[name].multilabel
    for split, n in sizes.items():
        folder = out / split
        folder.mkdir(parents=True)
        rows = []
        for i, category in enumerate(_categories(name, n, n_classes, tail)):
            rng = np.random.default_rng([seed, STANDIN_STREAM, standin, SPLIT_IDS[split], i])
            image, objects = render_sample(rng, image_size, n_classes, category,
                                           MULTILABEL_DISTRACTORS if multilabel else 0)
            if multilabel:
                rel = f"images/{i:05d}.png"
                present = {o["category"] for o in objects}
                rows.append([rel] + [int(c in present) for c in range(n_classes)])
            else:
                rel = f"{classes[category]}/{i:05d}.png"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            image.save(folder / rel)
        if multilabel:
            with open(folder / "labels.csv", "w", newline="") as f:
                csv.writer(f).writerows([["file", *classes], *rows])


def _write_paper(out: Path, name: str, image_size: int, seed: int, scale: float) -> None:
    """A stand-in of a paper dataset (:data:`evaluations.transfer.paper_standins.RECIPES`): image
    ``i`` of a split is class ``c`` in class order, drawn from the stream of its index."""
    recipe = RECIPES[STANDINS[name].stands_for]
    standin = list(STANDINS).index(name)
    for split in SPLIT_IDS:
        folder = out / split
        folder.mkdir(parents=True)
        categories = [c for c, k in enumerate(recipe.counts(split, scale)) for _ in range(k)]
        rows = []
        for i, category in enumerate(categories):
            rng = np.random.default_rng([seed, STANDIN_STREAM, standin, SPLIT_IDS[split], i])
            image, labels = recipe.render(rng, image_size, category)
            if recipe.multilabel:
                rel = f"images/{i:05d}.png"
                rows.append([rel] + [int(c in labels) for c in range(len(recipe.classes))])
            else:
                rel = f"{recipe.classes[category]}/{i:05d}.png"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            image.save(folder / rel)
        if recipe.multilabel:
            with open(folder / "labels.csv", "w", newline="") as f:
                csv.writer(f).writerows([["file", *recipe.classes], *rows])


def build_standins(out_root: str | Path, *, n_train: int = 400, n_val: int = 100, n_test: int = 200,
                   image_size: int = 32, n_classes: int = 8, seed: int = 0, tail: float = 0.7,
                   paper_scale: float = 1.0, names: tuple[str, ...] = tuple(STANDINS)) -> dict[str, Path]:
    """Write the stand-ins under ``out_root/<name>`` and return their folders. ``n_*``,
    ``n_classes`` and ``tail`` size the three shapes_top1/mpc/multilabel stand-ins; the ten of the
    paper's datasets (``shapes_<dataset>``) have their own per-class counts, times ``paper_scale``."""
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    out_root = Path(out_root)
    done = {}
    for name in names:
        if STANDINS[name].stands_for:
            recipe = RECIPES[STANDINS[name].stands_for]
            meta = {"generator": "evaluations.transfer.paper_standins", "format_version": PAPER_FORMAT_VERSION,
                    "name": name, "stands_for": recipe.stands_for, "metric": recipe.metric,
                    "counts": {s: recipe.counts(s, paper_scale) for s in SPLIT_IDS}, "image_size": image_size,
                    "seed": seed, "paper_scale": paper_scale, "classes": list(recipe.classes)}
        else:
            meta = {"generator": "evaluations.transfer.standins", "format_version": FORMAT_VERSION, "name": name,
                    "metric": STANDINS[name].metric, "sizes": sizes, "image_size": image_size,
                    "n_classes": n_classes, "seed": seed, "tail": tail, "classes": list(SHAPE_CLASSES[:n_classes])}
        out = out_root / name
        meta_path = out / "meta.json"
        if meta_path.is_file() and json.loads(meta_path.read_text()) == meta:
            done[name] = out
            continue
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not the stand-in {name} made with {meta}")
        tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            if STANDINS[name].stands_for:
                _write_paper(tmp, name, image_size, seed, paper_scale)
            else:
                _write(tmp, name, sizes, image_size, n_classes, seed, tail)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            if out.exists():
                out.rmdir()  # empty (checked above)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        done[name] = out
    return done
