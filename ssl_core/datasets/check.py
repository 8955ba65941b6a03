"""Decode every image of a data set once, before any job reads it.

A corrupt or truncated file would otherwise stop a run mid-training with PIL's traceback (or, with
``ImageFile.LOAD_TRUNCATED_IMAGES``, train on grey padding). :func:`check_images` decodes every
image file under the given folders, in ``workers`` processes (the data config's loader workers:
ImageNet's 1.28M files take minutes, not hours), and fails naming *every* bad file and what to do;
no image is ever skipped. The result is cached in a marker file keyed on the file list (relative
paths, sizes and modification times), so a set already checked is not decoded again.

At ImageNet's scale (1.33M files) a full decode costs ~3 CPU-hours; ``sample`` decodes a seeded
sample of that many files instead (the paper profile: ``data.check.sample``), and the loaders
still fail naming any bad file they meet later (``ssl_core.datasets.pretrain``). ``sample: 0`` is
the full check. :func:`check_classes` checks the class folders of ImageFolder splits.
"""
from __future__ import annotations

import hashlib
import json
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image

# torchvision.datasets.folder.IMG_EXTENSIONS (what ImageFolder reads), without importing torchvision
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CHUNK = 256  # files per task of a worker


class CorruptImagesError(RuntimeError):
    """Some images of a data set cannot be decoded; the message names every one."""


def image_files(folders: Iterable[str | Path]) -> list[Path]:
    """Every image file (by extension, as ImageFolder) under ``folders``, sorted."""
    files = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"no data folder at {folder}")
        files += [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files)


def fingerprint(files: Sequence[Path]) -> str:
    """Hash of the file list: paths, sizes and modification times (a replaced file changes it)."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode(paths: Sequence[str]) -> list[tuple[str, str]]:
    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.load()  # a full decode: verify() misses truncated JPEG data
        except Exception as e:  # noqa: BLE001 - any failure to decode is what we report
            bad.append((path, f"{type(e).__name__}: {e}"))
    return bad


def find_corrupt(files: Sequence[Path], workers: int = 0) -> list[tuple[str, str]]:
    """(path, error) of every file PIL cannot decode, in ``workers`` processes (0: this one)."""
    chunks = [[str(f) for f in files[i:i + CHUNK]] for i in range(0, len(files), CHUNK)]
    if workers <= 0 or len(chunks) <= 1:
        return [b for chunk in chunks for b in _decode(chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [b for bad in pool.map(_decode, chunks) for b in bad]


def check_classes(folders: Sequence[str | Path], expected: int | None, what: str) -> list[str]:
    """One line per problem with the class folders of ImageFolder ``folders`` (train, val): a
    count other than ``expected`` (None: any), or splits with different classes. Empty when right."""
    problems, first = [], None
    for folder in map(Path, folders):
        classes = sorted(d.name for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
        if expected is not None and len(classes) != expected:
            problems.append(f"{folder}: {len(classes)} class folders, expected {expected} ({what}): "
                            f"put every class of the set in its own folder under {folder}, or set "
                            "data.check.pretrain_classes to the number of classes it has")
        if first is None:
            first = (folder, set(classes))
        elif set(classes) != first[1]:
            extra = sorted(set(classes) ^ first[1])[:5]
            problems.append(f"{folder}: its class folders differ from those of {first[0]} (e.g. {', '.join(extra)}): "
                            "sort the validation images into the train split's class folders")
    return problems


def sample_files(files: Sequence[Path], sample: int, seed: int = 0) -> list[Path]:
    """``sample`` files drawn without replacement (seeded), in order; all of them if ``sample`` is 0
    or at least their number."""
    if not sample or sample >= len(files):
        return list(files)
    picked = sorted(random.Random(seed).sample(range(len(files)), sample))
    return [files[i] for i in picked]


def check_images(folders: Sequence[str | Path], marker: str | Path, what: str, workers: int = 0,
                 sample: int = 0) -> dict:
    """Decode every image under ``folders`` (``sample`` > 0: a seeded sample of that many) unless
    this exact file list was checked before (a hidden cache beside ``marker``); write the marker
    when all decode, else raise :class:`CorruptImagesError` naming every bad file. ``what`` names
    the data set in the message."""
    from ssl_core.io import write_json

    files = image_files(folders)
    key = fingerprint(files) + (f"-sample{sample}" if sample and sample < len(files) else "")
    marker = Path(marker)
    # A copy beside the marker that Snakemake does not declare, so it survives the removal of the
    # marker before a rerun (e.g. after a config edit that leaves the files as they are).
    cache = marker.with_name(f".{marker.name}.cache")
    if cache.is_file() and json.loads(cache.read_text()).get("fingerprint") == key:
        result = json.loads(cache.read_text())
        write_json(marker, result)
        return result
    decoded = sample_files(files, sample)
    bad = find_corrupt(decoded, workers)
    if bad:
        lines = "\n".join(f"  {path}: {error}" for path, error in bad)
        raise CorruptImagesError(
            f"{len(bad)} of {len(decoded)} images of {what} cannot be decoded:\n{lines}\n"
            "Nothing was trained on this data. Replace these files from the original archive (a "
            "truncated file usually means an interrupted download or copy: download or extract it "
            "again), or delete them if the data set is meant to go without them; then rerun. "
            "No image is skipped silently.")
    result = {"data": what, "folders": [str(f) for f in folders], "n_images": len(files), "n_decoded": len(decoded),
              "fingerprint": key}
    write_json(cache, result)
    write_json(marker, result)
    return result
