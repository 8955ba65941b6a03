"""The pretraining dataset: the method's augmented views plus the resized original of each image.

No reference pipeline keeps the original, but the rescue term needs it (the paper's Algorithm 1: strong
views are made from the original images of the selected pairs, not from the common views)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from ssl_core.datasets.check import CorruptImagesError
from ssl_core.seeding import item_seed  # noqa: F401 - also imported from here


def image_folder_samples(root: str | Path) -> list[tuple[str, int]]:
    """(path, class index) pairs of an ImageFolder tree; a clear error if it is missing."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"no image folder at {root}: expected the ImageFolder layout {root}/<class>/<image>"
        )
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise FileNotFoundError(f"{root} has no class folders: expected {root}/<class>/<image>")
    return make_dataset(str(root), {c: i for i, c in enumerate(classes)}, IMG_EXTENSIONS)


class MultiViewDataset(Dataset):
    """Yields ``(views, original_uint8)`` per image, ``views`` what ``ssl_core.augment.common.Views.item``
    makes of it: the method's list of augmented views (SimCLR/MoCo: 2; DINOv2: 2 global + local
    crops) or, when the views are made on the device, their random draws; labels are never used.

    Augmentations draw from torch's global RNG, so each item is seeded from (seed, epoch, index):
    the data stream is then identical with any number of loader workers and after a resume.
    """

    def __init__(
        self,
        source: Dataset,
        views: Callable[[Image.Image], list[torch.Tensor] | torch.Tensor],
        original: Callable[[Image.Image], torch.Tensor],
        seed: int = 0,
    ) -> None:
        """``source``: a dataset of (PIL image, label) items (``ssl_core.datasets.pretrain_split``)."""
        self.source, self.views, self.original, self.seed = source, views, original, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[list[torch.Tensor] | torch.Tensor, torch.Tensor]:
        try:
            img = self.source[index][0]
        except (OSError, SyntaxError, ValueError) as e:  # what PIL raises on a damaged or truncated file
            raise CorruptImagesError(self._bad_item(index, e)) from e
        # Seed the CPU generator the transforms draw from, and give the caller's state back (what
        # torch.random.fork_rng(devices=[]) + torch.manual_seed do, at 1/30 of their ~80 us, which
        # also seed every accelerator's generator).
        state = torch.get_rng_state()
        torch.default_generator.manual_seed(item_seed(self.seed, self.epoch, index))
        try:
            return self.views(img), self.original(img)
        finally:
            torch.set_rng_state(state)


    def _bad_item(self, index: int, error: Exception) -> str:
        samples = getattr(self.source, "samples", None)
        what = samples[index][0] if samples is not None else f"item {index} of {type(self.source).__name__}"
        return (f"{what} cannot be decoded ({type(error).__name__}: {error}); it changed after the image check. "
                "Replace it from the original archive and rerun: the run resumes from its last checkpoint "
                "(delete data/checked/pretrain.json under the results folder to check every image again).")
