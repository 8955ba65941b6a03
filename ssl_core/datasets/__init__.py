"""Pretraining dataset registry: each entry maps a data config and a split to a torch ``Dataset``
of ``(PIL image, label)`` items.

- ``shapes`` / ``imagenet``: ImageFolder trees on disk (``<root>/<split>/<class>/<image>``), one
  file per image read by the loader workers: nothing reads the whole dataset into memory.
- ``cifar10`` / ``cifar100``: torchvision's CIFAR classes over the official python-pickle archive
  (``<root>/cifar-10-batches-py``, ``<root>/cifar-100-python``; 50k train / 10k test images of
  32 px, which torchvision keeps in memory: 150 MB). ``val`` is the official test split. Only a
  config with ``data.pretrain.download: true`` (the cifar profile) lets torchvision download them.

Every set is checked once before any job reads it (``ssl_core.datasets.check``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ssl_core.registry import Registry

if TYPE_CHECKING:  # torch and torchvision load when a dataset is built, not when the DAG is parsed
    from torch.utils.data import Dataset

DATASETS: Registry["Dataset"] = Registry("dataset")
Transform = Callable[[Any], Any] | None


def _image_folder(path: Path, transform: Transform) -> "Dataset":
    from torchvision.datasets import ImageFolder

    from ssl_core.datasets.pretrain import image_folder_samples

    image_folder_samples(path)  # fails naming the expected layout if the tree is missing
    return ImageFolder(str(path), transform)


@DATASETS.register("shapes")
def shapes(root: str, split: str, transform: Transform = None, download: bool = False) -> "Dataset":
    """The project's generated dataset (``ssl_core.datasets.shapes``), made by the DAG's
    ``shapes_data`` rule; ``val`` is its held-out split."""
    return _image_folder(Path(root) / split, transform)


@DATASETS.register("imagenet")
def imagenet(root: str, split: str, transform: Transform = None, download: bool = False) -> "Dataset":
    """ImageNet-1K in the usual ImageFolder layout (``train/n01440764/*.JPEG``, ``val/<wnid>/``:
    the official 50k validation images sorted into their class folders)."""
    path = Path(root) / split
    if not path.is_dir():
        raise FileNotFoundError(
            f"ImageNet-1K {split} split not found at {path}: download ILSVRC2012 from "
            "https://image-net.org, arrange it as {root}/{train,val}/<wnid>/<image>.JPEG, "
            "and set data.pretrain.root in your config"
        )
    return _image_folder(path, transform)


# name -> (torchvision class, its folder under root)
CIFAR = {"cifar10": ("CIFAR10", "cifar-10-batches-py"), "cifar100": ("CIFAR100", "cifar-100-python")}


def _cifar(cls_name: str, folder: str) -> Callable[..., "Dataset"]:
    def build(root: str, split: str, transform: Transform = None, download: bool = False) -> "Dataset":
        import torchvision.datasets

        if not download and not (Path(root) / folder).is_dir():
            raise FileNotFoundError(
                f"{cls_name} not found at {Path(root) / folder}: set data.pretrain.download: true "
                f"(the cifar profile does) or unpack the python version from "
                f"https://www.cs.toronto.edu/~kriz/cifar.html into {root}")
        cls = getattr(torchvision.datasets, cls_name)
        return cls(root, train=split == "train", transform=transform, download=download)

    build.__doc__ = f"torchvision {cls_name} (python pickles in ``<root>/{folder}``); val = the test split."
    return build


for _name, (_cls, _folder) in CIFAR.items():
    DATASETS.register(_name)(_cifar(_cls, _folder))


def downloads(config: dict[str, Any]) -> dict[str, str]:
    """name -> root of every dataset a profile lets torchvision download: the pretraining set
    (``data.pretrain.download``) and the transfer sets (``eval.transfer.download``). The DAG's
    ``download_data`` rule fetches each once, before any job reads it; a set used both for
    pretraining and transfer (CIFAR-10 in the cifar profile) is one download."""
    plan: dict[str, str] = {}
    pretrain = config["data"]["pretrain"]
    if pretrain.get("download", False):
        if pretrain["name"] not in CIFAR:
            raise ValueError(f"data.pretrain.download: only {', '.join(CIFAR)} can be downloaded, not {pretrain['name']!r}")
        plan[pretrain["name"]] = pretrain["root"]
    transfer = config.get("eval", {}).get("transfer", {})
    if transfer.get("download", False):
        for name in transfer["datasets"]:
            if plan.setdefault(name, transfer["data_root"]) != transfer["data_root"]:
                raise ValueError(f"{name} is downloaded into data.pretrain.root ({plan[name]}) and into "
                                 f"eval.transfer.data_root ({transfer['data_root']}): use one root")
    return plan


def pretrain_folders(data: dict[str, Any]) -> list[Path]:
    """The folders of ``data``'s image files (ImageFolder sets, both splits); none for CIFAR's
    pickles. Fails, as the loaders do, naming the expected path where the set is missing."""
    folders = []
    for split in ("train", "val"):
        dataset = pretrain_split(data, split)
        if hasattr(dataset, "samples"):  # an ImageFolder
            folders.append(Path(dataset.root))
    return folders


def pretrain_split(data: dict[str, Any], split: str, transform: Transform = None) -> "Dataset":
    """The ``train`` or ``val`` split of ``data`` (the config's ``data.pretrain``)."""
    return DATASETS.build(data["name"], root=data["root"], split=split, transform=transform,
                          download=data.get("download", False))


def pretrain_images(data: dict[str, Any]) -> "Dataset":
    return pretrain_split(data, "train")
