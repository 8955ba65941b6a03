"""Light grey shapes on dark textured backgrounds: the tiny profile's dataset, generated offline.

Each image has a dark grey textured background (low-frequency noise, stripes or a rotated checker
between two grey levels in 0-70, plus pixel noise), one main object whose shape is the class
(a light grey level in 170-255, random position, rotation, and a circumscribed diameter of 50-85 %
of the image), and up to ``max_distractors`` (default 0) smaller objects of other classes drawn on
top of it. Every nuisance is one the SSL augmentations cover or the class does not depend on:
grey levels (colour jitter), position and size (random resized crops), texture; only rotation is
left for the model to learn. Distractors are mid grey, visible on the background and on the main
object alike. Objects have no hue: with random colours SimCLR tells instances apart
by their colour (a shortcut colour jitter does not remove, measured) and learns no shape.

Layout written by :func:`generate_shapes`::

    <out>/train/<class>/<index>.png      torchvision ImageFolder trees
    <out>/val/<class>/<index>.png
    <out>/annotations/instances_{train,val}.json   COCO: boxes + masks of every object
    <out>/meta.json                      generator arguments and class names

Class names are alphabetical, so ImageFolder's class index equals the COCO ``category_id - 1``.
Segmentations are always uncompressed COCO RLE of the *visible* pixels (distractors occlude the
main object, so a visible mask is not a polygon in general); boxes are tight around those pixels.
Each annotation has ``"main": true`` for the image's main object, ``false`` for distractors.

Everything is a function of the arguments: image ``i`` of a split is drawn from
``default_rng([seed, split_id, i])``, so the val split does not depend on ``n_train``, and two runs
with the same arguments write byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES: tuple[str, ...] = (
    "circle", "cross", "diamond", "hexagon", "ring", "square", "star", "triangle",
)
SPLIT_IDS = {"train": 0, "val": 1}  # part of each image's RNG seed
MAIN_SCALE = (0.5, 0.85)  # circumscribed diameter / image size
DISTRACTOR_SCALE = (0.2, 0.3)  # always below MAIN_SCALE: distractors are smaller
MIN_VISIBLE = 0.6  # an occluder may hide at most 40 % of any object beneath it
BACKGROUND_GREY = (0.0, 70.0)  # the background's two grey levels are drawn in this range
OBJECT_GREY = (170.0, 255.0)  # the main object's grey level: always well above the background
DISTRACTOR_GREY = (105.0, 140.0)  # between the two, so a distractor stands out on either
MIN_IMAGE_SIZE = 16  # below this the distractors are a pixel or two and shapes blur together
FORMAT_VERSION = 2  # bump when the rendering changes, so old outputs are not reused


def _regular(n: int, start: float) -> np.ndarray:
    angles = start + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return _regular(2 * points, -np.pi / 2) * radii[:, None]


def _cross(arm: float = 0.95, half: float = 0.3) -> np.ndarray:
    # A plus sign whose arm corners sit on the unit circle (0.95² + 0.3² ≈ 1).
    quarter = np.array([[half, -half], [arm, -half], [arm, half], [half, half]])
    rot90 = np.array([[0, -1], [1, 0]])
    return np.concatenate([quarter @ np.linalg.matrix_power(rot90, k).T for k in range(4)])


# Polygon vertices with circumradius 1, so any rotation stays inside the circumscribed circle.
# The diamond is an elongated rhombus: a rotated square would otherwise be the same shape.
_POLYGONS: dict[str, np.ndarray] = {
    "cross": _cross(),
    "diamond": np.array([[0, -1], [0.55, 0], [0, 1], [-0.55, 0]]),
    "hexagon": _regular(6, 0.0),
    "square": _regular(4, np.pi / 4),
    "star": _star(),
    "triangle": _regular(3, -np.pi / 2),
}
RING_INNER = 0.6  # hole radius / outer radius


def _shape_mask(name: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Rasterise one shape with PIL on an 'L' canvas; the RGB image is painted through this mask,
    so the mask and the object's pixels are the same set by construction."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if name in _POLYGONS:
        c, s = np.cos(angle), np.sin(angle)
        points = _POLYGONS[name] @ np.array([[c, -s], [s, c]]).T * r + (cx, cy)
        draw.polygon([tuple(p) for p in points], fill=255)
    else:  # circle and ring: rotation-invariant
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        if name == "ring":
            ri = RING_INNER * r
            draw.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    return np.asarray(canvas) > 0


def _place(rng: np.random.Generator, name: str, size: int, scale: tuple[float, float]) -> np.ndarray:
    """Mask of ``name`` at a random size, rotation and position fully inside the image."""
    r = rng.uniform(*scale) * size / 2
    cx, cy = rng.uniform(r, size - 1 - r, size=2)
    return _shape_mask(name, size, cx, cy, r, rng.uniform(0, 2 * np.pi))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dark grey textured ``[size, size, 3]`` float background."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    theta = rng.uniform(0, np.pi)
    u, v = xx * np.cos(theta) + yy * np.sin(theta), -xx * np.sin(theta) + yy * np.cos(theta)
    kind = rng.integers(3)
    if kind == 0:  # low-frequency noise: a coarse random grid, bilinearly upsampled
        grid = Image.fromarray(rng.random((rng.integers(3, 6),) * 2).astype(np.float32))
        t = np.asarray(grid.resize((size, size), Image.Resampling.BILINEAR))
    elif kind == 1:  # stripes at a random angle and frequency
        t = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * u + rng.uniform(0, 2 * np.pi))
    else:  # rotated checkerboard
        cells = rng.uniform(2, 6)
        t = (np.floor(u * cells) + np.floor(v * cells)) % 2
    g0, g1 = rng.uniform(*BACKGROUND_GREY, size=2)
    # Fine pixel noise keeps flat regions from being trivially separable from objects.
    grey = g0 + t * (g1 - g0) + rng.normal(0, 6, (size, size))
    return np.repeat(grey[..., None], 3, axis=2)


def mask_bbox(mask: np.ndarray) -> list[int]:
    """Tight COCO box ``[x, y, w, h]`` in pixels around the true pixels of ``mask``."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def mask_to_rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE: run lengths of the column-major mask, starting with a 0-run."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def rle_to_mask(rle: dict) -> np.ndarray:
    """Inverse of :func:`mask_to_rle`: a bool ``[h, w]`` mask."""
    h, w = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    return np.repeat(values, rle["counts"]).reshape((h, w), order="F")


def render_sample(
    rng: np.random.Generator, image_size: int, n_classes: int, category: int | None = None,
    max_distractors: int = 0,
) -> tuple[Image.Image, list[dict]]:
    """Draw one image and its objects.

    Returns the RGB image and, main object first, one dict per object: ``category`` (0-based),
    ``mask`` (bool ``[H, W]``, visible pixels only), ``bbox`` (tight ``[x, y, w, h]``), ``main``
    and ``colour`` (the object's RGB). ``category`` fixes the main object's class (default: drawn
    from ``rng``); 0 to ``max_distractors`` distractors are of other classes among the first
    ``n_classes``.
    """
    _check_sizes(image_size, n_classes)
    if category is None:
        category = int(rng.integers(n_classes))
    pixels = _background(rng, image_size)
    cats, visible, full, colours = [], [], [], []

    def paint(cat: int, mask: np.ndarray) -> None:
        grey = OBJECT_GREY if not cats else DISTRACTOR_GREY
        colour = np.full(3, rng.uniform(*grey)).round().astype(np.uint8)
        pixels[mask] = colour
        for vis in visible:  # the new object hides what is beneath it
            vis &= ~mask
        cats.append(cat)
        visible.append(mask)
        full.append(int(mask.sum()))
        colours.append(colour)

    paint(category, _place(rng, SHAPE_CLASSES[category], image_size, MAIN_SCALE))
    for _ in range(rng.integers(0, max_distractors + 1)):
        other = int(rng.integers(n_classes - 1))
        other += other >= category  # uniform over the classes other than the main one
        for _try in range(5):  # a few positions; skip the distractor if all hide too much
            mask = _place(rng, SHAPE_CLASSES[other], image_size, DISTRACTOR_SCALE)
            if mask.any() and all((v & ~mask).sum() >= MIN_VISIBLE * f for v, f in zip(visible, full)):
                paint(other, mask)
                break

    image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    objects = [
        {"category": c, "mask": m, "bbox": mask_bbox(m), "main": i == 0, "colour": tuple(int(x) for x in col)}
        for i, (c, m, col) in enumerate(zip(cats, visible, colours))
    ]
    return image, objects


def _check_sizes(image_size: int, n_classes: int) -> None:
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size={image_size}: must be at least {MIN_IMAGE_SIZE}")
    if not 2 <= n_classes <= len(SHAPE_CLASSES):
        raise ValueError(f"n_classes={n_classes}: must be between 2 and {len(SHAPE_CLASSES)}")


def _write_split(root: Path, split: str, n: int, image_size: int, n_classes: int, seed: int) -> None:
    classes = SHAPE_CLASSES[:n_classes]
    for name in classes:
        (root / split / name).mkdir(parents=True)
    digits = max(5, len(str(n - 1)))
    images, annotations = [], []
    for i in range(n):
        category = i % n_classes  # balanced: class counts differ by at most one
        image, objects = render_sample(
            np.random.default_rng([seed, SPLIT_IDS[split], i]), image_size, n_classes, category
        )
        file_name = f"{classes[category]}/{i:0{digits}d}.png"
        image.save(root / split / file_name)  # PIL writes no timestamp: same pixels, same bytes
        images.append({"id": i + 1, "file_name": file_name, "width": image_size, "height": image_size})
        for obj in objects:
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": obj["category"] + 1,
                "bbox": obj["bbox"],
                "area": int(obj["mask"].sum()),
                "iscrowd": 0,
                "segmentation": mask_to_rle(obj["mask"]),
                "main": obj["main"],
            })
    coco = {
        "info": {"description": f"rescue-ssl shapes, {split} split", "version": str(FORMAT_VERSION)},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c + 1, "name": name, "supercategory": "shape"} for c, name in enumerate(classes)],
    }
    (root / "annotations").mkdir(exist_ok=True)
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco, separators=(",", ":")))


def _is_complete(out: Path, meta: dict) -> bool:
    # meta.json is written last inside the temporary tree, so its presence means a full dataset.
    path = out / "meta.json"
    return path.is_file() and json.loads(path.read_text()) == meta


def generate_shapes(
    out: str | Path,
    *,
    n_train: int = 2000,
    n_val: int = 500,
    image_size: int = 32,
    n_classes: int = 8,
    seed: int = 0,
) -> Path:
    """Write the dataset to ``out`` (layout in the module docstring) and return ``out``.

    The tree is built in ``<out>.tmp-<pid>`` and moved into place with one ``os.replace``, so a
    killed run never leaves a partial dataset at ``out``. If ``out`` already holds a complete
    dataset made with the same arguments, it is returned untouched (nothing is rewritten); any
    other non-empty ``out`` raises ``FileExistsError`` rather than being overwritten.
    """
    _check_sizes(image_size, n_classes)
    if n_train < 0 or n_val < 0 or seed < 0:
        raise ValueError(f"n_train={n_train}, n_val={n_val}, seed={seed}: must be non-negative")
    out = Path(out)
    args = {"n_train": n_train, "n_val": n_val, "image_size": image_size, "n_classes": n_classes, "seed": seed}
    meta = {
        "generator": "ssl_core.datasets.shapes",
        "format_version": FORMAT_VERSION,
        "args": args,
        "classes": list(SHAPE_CLASSES[:n_classes]),
        "segmentation": "uncompressed COCO RLE of the visible pixels",
    }
    if _is_complete(out, meta):
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not a shapes dataset made with {args}")
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)  # a leftover of an earlier process with our pid
    try:
        tmp.mkdir(parents=True)
        for split, n in (("train", n_train), ("val", n_val)):
            _write_split(tmp, split, n, image_size, n_classes, seed)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:
            if not _is_complete(out, meta):  # else a concurrent run with the same arguments won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (must not hold anything else)")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-val", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n-classes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args(argv)
    start = time.perf_counter()
    out = generate_shapes(
        a.out, n_train=a.n_train, n_val=a.n_val, image_size=a.image_size, n_classes=a.n_classes, seed=a.seed
    )
    print(f"shapes dataset at {out} ({a.n_train} train + {a.n_val} val images, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
