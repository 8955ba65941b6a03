"""Decode every image of a data set once, before any job reads it.

A corrupt or truncated file would otherwise stop a run mid-training with PIL's traceback (or, with
``ImageFile.LOAD_TRUNCATED_IMAGES``, train on grey padding). :func:`check_images` decodes every
image file under the given folders, in ``workers`` processes (the data config's loader workers:
ImageNet's 1.28M files take minutes, not hours), and fails naming *every* bad file and what to do;
no image is ever skipped. The result is cached in a marker file keyed on the file list (relative
paths, sizes and modification times), so a set already checked is not decoded again.
"""
from __future__ import annotations

import hashlib
import json
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


def check_images(folders: Sequence[str | Path], marker: str | Path, what: str, workers: int = 0) -> dict:
    """Decode every image under ``folders`` unless this exact file list was checked before (a
    hidden cache beside ``marker``); write the marker when all decode, else raise
    :class:`CorruptImagesError` naming every bad file. ``what`` names the data set in the message."""
    from ssl_core.io import write_json

    files = image_files(folders)
    key = fingerprint(files)
    marker = Path(marker)
    # A copy beside the marker that Snakemake does not declare, so it survives the removal of the
    # marker before a rerun (e.g. after a config edit that leaves the files as they are).
    cache = marker.with_name(f".{marker.name}.cache")
    if cache.is_file() and json.loads(cache.read_text()).get("fingerprint") == key:
        result = json.loads(cache.read_text())
        write_json(marker, result)
        return result
    bad = find_corrupt(files, workers)
    if bad:
        lines = "\n".join(f"  {path}: {error}" for path, error in bad)
        raise CorruptImagesError(
            f"{len(bad)} of {len(files)} images of {what} cannot be decoded:\n{lines}\n"
            "Nothing was trained on this data. Replace these files from the original archive (a "
            "truncated file usually means an interrupted download or copy: download or extract it "
            "again), or delete them if the data set is meant to go without them; then rerun. "
            "No image is skipped silently.")
    result = {"data": what, "folders": [str(f) for f in folders], "n_images": len(files), "fingerprint": key}
    write_json(cache, result)
    write_json(marker, result)
    return result
