"""Ten generated stand-ins, one per transfer dataset of Table 1, for the CPU profiles.

Each ``shapes_<dataset>`` stands for the paper's ``<dataset>`` (``stands_for`` in
:data:`evaluations.transfer.standins.STANDINS`): it is scored with that dataset's metric and
mimics, where it is cheap to draw at 32 px, what makes the dataset distinct. Objects are light
grey on a dark textured background, as the pretraining shapes (:mod:`ssl_core.datasets.shapes`),
so a backbone pretrained on the shapes has something to transfer; none is a pretraining image
(own random stream, see :mod:`evaluations.transfer.standins`).

============ ======= ================================================================ ==============
stand-in     classes what makes it distinct                                            metric
============ ======= ================================================================ ==============
cifar10      10      coarse shape classes, one object                                  top-1
cifar100     30      3x the classes: main shape x 0-2 small companion discs            top-1
food101      20      shape x fill pattern (5) on a cluttered background (small blobs)  top-1
sun397       15      scenes: the unordered pair of two large objects (6 shapes)        top-1
dtd          20      texture only, no object: 5 texture kinds x 4 frequencies          top-1
pets         16      fine-grained: polygon sides x elongation x hole                   mean p.c.
aircraft     16      fine-grained: 4 families x thickness x elongation                 mean p.c.
voc2007      8       multi-label scenes: 1-2 large objects of different classes (the   11-point mAP
                     pretraining shapes), labels = the classes drawn
flowers      18      fine-grained "flowers": petals x petal depth x centre; 20         mean p.c.
                     training images per class (few-shot)
caltech101   30      shape x fill; 25 + 5 training images per class, long-tailed test  mean p.c.
                     set (240 down to 48 per class: Caltech's "all the rest")
============ ======= ================================================================ ==============

The class counts are the paper's scaled down to what a tiny backbone on 32 px can tell apart
(a first version with the paper's counts, 100 classes for CIFAR-100 and Aircraft, put a trained
tiny SimCLR within 1-4 points of its random init: nothing for a gain to be measured against).
Test sets are large enough that one run's standard error is at most one point in the worst case
(p = 0.5 everywhere; :func:`worst_case_se`); the train sets are small, as a CPU run needs. The
per-class counts scale with ``scale`` (the tiny profile and the tests use less).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from ssl_core.datasets.shapes import BACKGROUND_GREY, DISTRACTOR_GREY, OBJECT_GREY, _background

Sample = tuple[Image.Image, list[int]]  # the image and its class(es)
FORMAT_VERSION = 1  # in each stand-in's meta.json: bump when a drawing changes, so old trees are not reused


# --------------------------------------------------------------------------- shapes
def _regular(n: int, start: float = -np.pi / 2) -> np.ndarray:
    a = start + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _star(points: int, inner: float) -> np.ndarray:
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return _regular(2 * points) * radii[:, None]


def _cross(half: float = 0.3) -> np.ndarray:
    arm = math.sqrt(1 - half ** 2)
    quarter = np.array([[half, -half], [arm, -half], [arm, half], [half, half]])
    rot = np.array([[0, -1], [1, 0]])
    return np.concatenate([quarter @ np.linalg.matrix_power(rot, k).T for k in range(4)])


@dataclass(frozen=True)
class Shape:
    """A polygon with circumradius 1 (``points``), squashed to ``elong`` along one axis before the
    rotation, with an optional hole (the same polygon scaled by ``hole``)."""

    points: np.ndarray
    elong: float = 1.0
    hole: float = 0.0


COARSE: dict[str, Shape] = {
    "circle": Shape(_regular(48)), "ring": Shape(_regular(48), hole=0.6), "triangle": Shape(_regular(3)),
    "square": Shape(_regular(4, np.pi / 4)), "pentagon": Shape(_regular(5)), "hexagon": Shape(_regular(6, 0.0)),
    "star": Shape(_star(5, 0.45)), "cross": Shape(_cross()), "diamond": Shape(np.array([[0, -1], [0.55, 0], [0, 1], [-0.55, 0]])),
    "tristar": Shape(_star(3, 0.35)),
}


def _polygon_mask(size: int, points: np.ndarray, cx: float, cy: float, r: float, angle: float, elong: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    p = points * np.array([1.0, elong]) @ np.array([[c, -s], [s, c]]).T * r + (cx, cy)
    canvas = Image.new("L", (size, size), 0)
    ImageDraw.Draw(canvas).polygon([tuple(q) for q in p], fill=255)
    return np.asarray(canvas) > 0


def shape_mask(shape: Shape, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    mask = _polygon_mask(size, shape.points, cx, cy, r, angle, shape.elong)
    if shape.hole:
        mask &= ~_polygon_mask(size, shape.points * shape.hole, cx, cy, r, angle, shape.elong)
    return mask


def _place(rng: np.random.Generator, size: int, scale: tuple[float, float]) -> tuple[float, float, float, float]:
    r = rng.uniform(*scale) * size / 2
    cx, cy = rng.uniform(r, size - 1 - r, size=2)
    return cx, cy, r, rng.uniform(0, 2 * np.pi)


# --------------------------------------------------------------------------- fills and textures
FILLS = ("solid", "stripes", "checker", "outline", "half")


def _paint(rng: np.random.Generator, pixels: np.ndarray, mask: np.ndarray, grey: tuple[float, float],
           fill: str = "solid", place: tuple[float, float, float, float] | None = None) -> None:
    """Paint ``mask`` in a grey of ``grey``; patterned fills alternate it with a darker mid grey,
    in the object's own frame (``place``: centre, radius, angle)."""
    light = rng.uniform(*grey)
    if fill == "solid":
        pixels[mask] = light
        return
    size = mask.shape[0]
    cx, cy, r, angle = place
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / r
    v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / r
    if fill == "stripes":
        on = np.sin(np.pi * 2.0 * u) > 0
    elif fill == "checker":
        on = (np.floor(u * 2.0) + np.floor(v * 2.0)) % 2 == 0
    elif fill == "outline":
        on = np.hypot(u, v) > 0.55
    elif fill == "half":
        on = v > 0
    else:  # pragma: no cover
        raise ValueError(fill)
    pixels[mask & on] = light
    pixels[mask & ~on] = rng.uniform(*DISTRACTOR_GREY) if fill != "outline" else pixels[mask & ~on]


TEXTURES = ("stripes", "checker", "dots", "rings", "noise")
TEXTURE_FREQS = (2.0, 3.0, 4.5, 6.5)  # periods (cells) per image side


def texture(rng: np.random.Generator, size: int, kind: str, freq: float) -> np.ndarray:
    """A ``[size, size]`` grey texture of ``kind`` at ``freq`` (random phase, angle and grey levels)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    th = rng.uniform(0, np.pi)
    u, v = xx * np.cos(th) + yy * np.sin(th), -xx * np.sin(th) + yy * np.cos(th)
    f = freq * rng.uniform(0.93, 1.07)
    if kind == "stripes":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * u + rng.uniform(0, 2 * np.pi))
    elif kind == "checker":
        t = (np.floor(u * f + rng.uniform()) + np.floor(v * f + rng.uniform())) % 2
    elif kind == "dots":
        t = (np.sin(2 * np.pi * f * u + rng.uniform(0, 6.3)) * np.sin(2 * np.pi * f * v + rng.uniform(0, 6.3)) > 0.35) * 1.0
    elif kind == "rings":
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * np.hypot(xx - cx, yy - cy) + rng.uniform(0, 2 * np.pi))
    elif kind == "noise":
        cells = max(2, int(round(2 * f)))
        grid = Image.fromarray(rng.random((cells, cells)).astype(np.float32))
        t = np.asarray(grid.resize((size, size), Image.Resampling.BILINEAR))
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    else:  # pragma: no cover
        raise ValueError(kind)
    g0 = rng.uniform(0, 100)
    g1 = min(255.0, g0 + rng.uniform(80, 155))
    return g0 + t * (g1 - g0) + rng.normal(0, 6, (size, size))


# --------------------------------------------------------------------------- renderers
def _image(pixels: np.ndarray) -> Image.Image:
    grey = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=2))


def _bg(rng: np.random.Generator, size: int) -> np.ndarray:
    return _background(rng, size)[..., 0].copy()


MAIN_SCALE = (0.5, 0.85)


def _object(rng, pixels, shape: Shape, scale=MAIN_SCALE, grey=OBJECT_GREY, fill="solid") -> np.ndarray:
    place = _place(rng, pixels.shape[0], scale)
    mask = shape_mask(shape, pixels.shape[0], *place)
    _paint(rng, pixels, mask, grey, fill, place)
    return mask


def _objects(rng, pixels, shapes: list[Shape], scale: tuple[float, float], min_visible: float = 0.6) -> list[bool]:
    """Draw ``shapes`` in order, each at up to 5 positions until every earlier object keeps
    ``min_visible`` of its pixels; returns which were drawn (the first always is)."""
    drawn, masks = [], []
    for shape in shapes:
        for _ in range(5):
            place = _place(rng, pixels.shape[0], scale)
            mask = shape_mask(shape, pixels.shape[0], *place)
            if mask.any() and all((m & ~mask).sum() >= min_visible * m.sum() for m in masks):
                _paint(rng, pixels, mask, OBJECT_GREY, "solid", place)
                masks = [m & ~mask for m in masks] + [mask]
                drawn.append(True)
                break
        else:
            drawn.append(False)
    return drawn


COARSE_NAMES = tuple(COARSE)


def _coarse(rng, size, c) -> Sample:
    pixels = _bg(rng, size)
    _object(rng, pixels, COARSE[COARSE_NAMES[c]])
    return _image(pixels), [c]


def _companion(rng, size, c) -> Sample:
    main, companions = divmod(c, 3)
    pixels = _bg(rng, size)
    _object(rng, pixels, COARSE[COARSE_NAMES[main]])
    for _ in range(companions):  # 0-2 small mid-grey discs on top
        _object(rng, pixels, COARSE["circle"], scale=(0.25, 0.3), grey=DISTRACTOR_GREY)
    return _image(pixels), [c]


FOOD_SHAPES = ("circle", "triangle", "square", "cross")


def _cluttered_fill(rng, size, c) -> Sample:
    shape, fill = divmod(c, len(FILLS))
    pixels = _bg(rng, size)
    for _ in range(3):  # clutter: small mid-grey blobs under the object
        _object(rng, pixels, COARSE["circle"], scale=(0.12, 0.22), grey=DISTRACTOR_GREY)
    _object(rng, pixels, COARSE[FOOD_SHAPES[shape]], fill=FILLS[fill])
    return _image(pixels), [c]


SCENE_SHAPES = ("circle", "ring", "triangle", "square", "star", "cross")
SCENES = tuple(itertools.combinations(range(len(SCENE_SHAPES)), 2))


def _scene(rng, size, c) -> Sample:
    """A scene is what stands in it: the unordered pair of two different objects, both large,
    at random places (an image whose two objects cannot both be placed is redrawn)."""
    pair = [SCENE_SHAPES[k] for k in rng.permutation(SCENES[c])]
    while True:
        pixels = _bg(rng, size)
        if all(_objects(rng, pixels, [COARSE[k] for k in pair], (0.4, 0.55), min_visible=0.8)):
            return _image(pixels), [c]


def _texture(rng, size, c) -> Sample:
    kind, freq = divmod(c, len(TEXTURE_FREQS))
    return _image(texture(rng, size, TEXTURES[kind], TEXTURE_FREQS[freq])), [c]


PETS = tuple(itertools.product((3, 4, 6, 48), (1.0, 0.55), (0.0, 0.5)))  # 48 sides: a disc
AIRCRAFT_FAMILIES = {"cross": (0.2, 0.4), "star5": (0.3, 0.55), "tristar": (0.25, 0.5), "star8": (0.5, 0.75)}
AIRCRAFT = tuple(itertools.product(AIRCRAFT_FAMILIES, (0, 1), (1.0, 0.6)))  # family x thickness x elongation
FLOWERS = tuple(itertools.product((5, 7, 10), (0.35, 0.65), ("none", "dark", "mid")))


def _pet(rng, size, c) -> Sample:
    n, elong, hole = PETS[c]
    pixels = _bg(rng, size)
    _object(rng, pixels, Shape(_regular(n), elong=elong, hole=hole))
    return _image(pixels), [c]


def _aircraft(rng, size, c) -> Sample:
    family, thick, elong = AIRCRAFT[c]
    t = AIRCRAFT_FAMILIES[family][thick]
    points = _cross(t) if family == "cross" else _star({"star5": 5, "tristar": 3, "star8": 8}[family], t)
    pixels = _bg(rng, size)
    _object(rng, pixels, Shape(points, elong=elong))
    return _image(pixels), [c]


def _flower(rng, size, c) -> Sample:
    petals, depth, centre = FLOWERS[c]
    pixels = _bg(rng, size)
    place = _place(rng, size, MAIN_SCALE)
    mask = shape_mask(Shape(_star(petals, depth)), size, *place)
    _paint(rng, pixels, mask, OBJECT_GREY)
    if centre != "none":
        cx, cy, r, angle = place
        disc = shape_mask(COARSE["circle"], size, cx, cy, 0.3 * r, angle)
        _paint(rng, pixels, disc, BACKGROUND_GREY if centre == "dark" else DISTRACTOR_GREY)
    return _image(pixels), [c]


CALTECH_SHAPES = ("circle", "triangle", "square", "star", "cross", "diamond")


def _fill(rng, size, c) -> Sample:
    shape, fill = divmod(c, len(FILLS))
    pixels = _bg(rng, size)
    _object(rng, pixels, COARSE[CALTECH_SHAPES[shape]], fill=FILLS[fill])
    return _image(pixels), [c]


VOC_CLASSES = ("circle", "cross", "diamond", "hexagon", "ring", "square", "star", "triangle")  # the pretraining shapes


def _multilabel(rng, size, c) -> Sample:
    """1-2 objects of different coarse classes, the first of class ``c``, same size range: labels
    are the classes drawn (an object that found no place is not drawn and not a label)."""
    others = [k for k in rng.permutation(len(VOC_CLASSES)) if k != c][: int(rng.integers(0, 2))]
    classes = [c, *others]
    pixels = _bg(rng, size)
    drawn = _objects(rng, pixels, [COARSE[VOC_CLASSES[k]] for k in classes], (0.45, 0.65))
    return _image(pixels), sorted(k for k, d in zip(classes, drawn) if d)


# --------------------------------------------------------------------------- the ten recipes
@dataclass(frozen=True)
class Recipe:
    """One stand-in: ``classes`` (folder / column names), ``render(rng, size, c)``, per-class image
    counts ``(train, val, test)`` (``test_tail``: the test count of class ``c`` falls
    geometrically from ``test`` to ``test * test_tail``), and what it mimics."""

    stands_for: str
    metric: str
    classes: tuple[str, ...]
    render: Callable[[np.random.Generator, int, int], Sample]
    per_class: tuple[int, int, int]
    mimics: str
    multilabel: bool = False
    test_tail: float = 1.0

    def counts(self, split: str, scale: float = 1.0) -> list[int]:
        """Images per class of ``split`` (at least one)."""
        n = self.per_class[("train", "val", "test").index(split)]
        c = np.arange(len(self.classes))
        w = self.test_tail ** (c / max(len(c) - 1, 1)) if split == "test" else np.ones(len(c))
        return np.maximum(1, np.round(n * scale * w)).astype(int).tolist()


def _names(fmt: str, items) -> tuple[str, ...]:
    return tuple(fmt.format(*(i if isinstance(i, tuple) else (i,))) for i in items)


def _f(x: float) -> str:
    return f"{round(100 * x):03d}"


RECIPES: dict[str, Recipe] = {
    "cifar10": Recipe("cifar10", "top1", COARSE_NAMES, _coarse, (150, 50, 280),
                      "10 coarse shape classes, one object per image"),
    "cifar100": Recipe("cifar100", "top1", tuple(f"{a}+{k}discs" for a in COARSE_NAMES for k in range(3)),
                       _companion, (50, 20, 94), "3x the classes of cifar10: main shape x 0-2 small companion discs"),
    "food101": Recipe("food101", "top1", tuple(f"{s}-{f}" for s in FOOD_SHAPES for f in FILLS),
                      _cluttered_fill, (60, 20, 140), "20 classes of shape x fill pattern on a cluttered background"),
    "sun397": Recipe("sun397", "top1", tuple(f"{SCENE_SHAPES[a]}+{SCENE_SHAPES[b]}" for a, b in SCENES), _scene,
                     (80, 20, 187), "15 scene classes: the unordered pair of two large objects at random places"),
    "dtd": Recipe("dtd", "top1", tuple(f"{k}-f{_f(f)}" for k in TEXTURES for f in TEXTURE_FREQS), _texture,
                  (40, 20, 140), "20 texture-only classes (5 kinds x 4 frequencies), no object"),
    "pets": Recipe("pets", "mean_per_class", tuple(f"poly{n}-e{_f(e)}-h{_f(h)}" for n, e, h in PETS), _pet,
                   (80, 20, 175), "16 fine-grained classes: polygon sides x elongation x hole"),
    "aircraft": Recipe("aircraft", "mean_per_class", tuple(f"{a}-t{t}-e{_f(e)}" for a, t, e in AIRCRAFT),
                       _aircraft, (80, 20, 175), "16 fine-grained classes: 4 families x thickness x elongation"),
    "voc2007": Recipe("voc2007", "map11", VOC_CLASSES, _multilabel, (150, 60, 350),
                      "multi-label scenes: 1-2 large objects of different classes, labels = classes drawn",
                      multilabel=True),
    "flowers": Recipe("flowers", "mean_per_class", tuple(f"petals{p}-d{_f(d)}-{c}" for p, d, c in FLOWERS),
                      _flower, (20, 20, 156), "18 fine-grained flower classes, 20 training images each"),
    "caltech101": Recipe("caltech101", "mean_per_class", tuple(f"{s}-{f}" for s in CALTECH_SHAPES for f in FILLS),
                         _fill, (25, 5, 240), "30 classes of shape x fill, 25 + 5 training images per class, "
                         "long-tailed test set (240 down to 48 per class)", test_tail=0.2),
}


def worst_case_se(recipe: Recipe, scale: float = 1.0) -> float:
    """Standard error (points) of one run's test score where every class is right with p = 0.5:
    top-1 over all test images, mean per-class accuracy over the per-class means. For mAP, the
    top-1 bound over the test images (the mAP's own error is measured, docs/profiles.md)."""
    counts = np.asarray(recipe.counts("test", scale), dtype=float)
    if recipe.metric == "mean_per_class":
        return 100 * math.sqrt(float(np.sum(0.25 / counts))) / len(counts)
    return 100 * math.sqrt(0.25 / counts.sum())
