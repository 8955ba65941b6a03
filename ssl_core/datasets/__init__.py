"""Pretraining dataset registry: each entry maps a data config to the ImageFolder tree of a split.

Both datasets are read from disk as ImageFolder trees (``<root>/<split>/<class>/<image>``), one file
per image through the loader workers: nothing reads the whole dataset into memory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.datasets.pretrain import image_folder_samples
from ssl_core.registry import Registry

DATASETS: Registry[Path] = Registry("dataset")


@DATASETS.register("shapes")
def shapes(root: str, split: str) -> Path:
    """The project's generated dataset (``ssl_core.datasets.shapes``), made by the DAG's
    ``shapes_data`` rule; ``val`` is its held-out split."""
    return Path(root) / split


@DATASETS.register("imagenet")
def imagenet(root: str, split: str) -> Path:
    """ImageNet-1K in the usual ImageFolder layout (``train/n01440764/*.JPEG``, ``val/<wnid>/``:
    see the README for the val-folder script); ``val`` is the official 50k validation set."""
    path = Path(root) / split
    if not path.is_dir():
        raise FileNotFoundError(
            f"ImageNet-1K {split} split not found at {path}: download ILSVRC2012 from "
            "https://image-net.org, arrange it as {root}/{train,val}/<wnid>/<image>.JPEG, "
            "and set data.pretrain.root in your config"
        )
    return path


def split_dir(data: dict[str, Any], split: str) -> Path:
    return DATASETS.build(data["name"], root=data["root"], split=split)


def pretrain_samples(data: dict[str, Any]) -> list[tuple[str, int]]:
    return image_folder_samples(split_dir(data, "train"))
