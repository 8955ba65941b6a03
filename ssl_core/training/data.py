"""The data side of the training loop: a self-supervised run's multi-view data (``ViewData``), one
pass's batches of this process (``PassBatches``) and the recheck of the training images when they
changed under a checkpoint.

The loop's data interface (``ViewData`` here; ``ssl_core.supervised.LabelledData`` for the
ceiling): ``dataset``, ``source`` (what was read from disk), ``checkpoint_at_pass_ends``,
``start_pass(epoch)``, ``order(epoch)``, ``begin_step(step)`` -> the strong views' generator (or
None) and ``inputs(batch, originals, device)`` -> (views, originals, targets).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ssl_core import distributed as dist
from ssl_core.augment.common import Views
from ssl_core.augment.originals import original_size, original_transform
from ssl_core.batchnorm import DEFAULT_RULE
from ssl_core.datasets import pretrain_images
from ssl_core.datasets.check import CorruptImagesError, find_corrupt, fingerprint
from ssl_core.datasets.pretrain import MultiViewDataset
from ssl_core.methods import METHODS
from ssl_core.seeding import data_order_seed, step_seed, strong_augment_seed


def rescue_rule(spec: dict[str, Any]) -> dict[str, str]:
    """The rescue term's BatchNorm rule and top-k scope of a spec (its ``rescue: {bn, topk}``, which
    the config fills for rescued runs), with the defaults where a spec has none."""
    return {"bn": DEFAULT_RULE, "topk": "per_process", **(spec.get("rescue") or {})}


class ViewData:
    """The data of a self-supervised run, for the training loop: each image's views drawn from
    (seed, pass, index) (``MultiViewDataset``), a pass's order from its own seed, and per step the
    global RNG (in-method randomness, e.g. iBOT's masks) and the strong views' generator from the
    step's. ``LabelledData`` (ssl_core.supervised) is the supervised ceiling's counterpart."""

    checkpoint_at_pass_ends = False  # every stream is seeded per step: a run resumes at any step

    def __init__(self, spec: dict[str, Any], rank: int = 0) -> None:
        recipe = spec["recipe"]
        self.seed, self.rank = spec["seed"], rank
        # The global top-k draws every process's strong views from one generator (rank 0's).
        self.strong_rank = 0 if rescue_rule(spec)["topk"] == "global" else rank
        self.views = Views(METHODS.get(spec["method"]).view_specs(recipe), spec["data"].get("augment_on", "device"))
        self.dataset = MultiViewDataset(pretrain_images(spec["data"]), self.views.item,
                                        original_transform(original_size(recipe)), self.seed)
        self.source = self.dataset.source

    def start_pass(self, epoch: int) -> None:
        """Before the pass's loader starts (and its workers copy the dataset)."""
        self.dataset.set_epoch(epoch)

    def order(self, epoch: int) -> torch.Tensor:
        return torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(data_order_seed(self.seed, epoch)))

    def begin_step(self, step: int) -> torch.Generator:
        """Seeds the step's global RNG; returns the generator of its strong views."""
        torch.manual_seed(step_seed(self.seed, step, self.rank))
        return torch.Generator().manual_seed(strong_augment_seed(self.seed, step, self.strong_rank))

    def inputs(self, batch, originals: torch.Tensor, device: torch.device):
        """(views, originals, targets) of a step: the method's views, made on the device where asked."""
        return self.views(batch, originals, device), originals, None


class PassBatches:
    """This process's batches of one pass over the data, from batch ``first`` on (``count`` of them).
    The order is drawn when the loader asks for the first batch, after its iterator started (the
    supervised ceiling's order draws from the global RNG, which torch's DataLoader iterator also
    draws from when it starts)."""

    def __init__(self, data, epoch: int, data_steps: int, batch_size: int, rank: int, first: int, count: int):
        self.data, self.epoch, self.data_steps, self.batch_size = data, epoch, data_steps, batch_size
        self.rank, self.first, self.count = rank, first, min(count, data_steps - first)

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        local = self.batch_size // dist.world_size()
        order = self.data.order(self.epoch)
        batches = order[: self.data_steps * self.batch_size].view(self.data_steps, self.batch_size)
        batches = batches[:, self.rank * local:(self.rank + 1) * local].tolist()  # this process's slice
        yield from batches[self.first : self.first + self.count]


def image_fingerprint(data) -> str | None:
    """Fingerprint (paths, sizes, modification times) of the training images, for a file-backed set."""
    samples = getattr(data.source, "samples", None)
    return fingerprint([Path(p) for p, _ in samples]) if samples is not None else None


def recheck_images(data, spec: dict[str, Any], say) -> None:
    """The training images changed since the checkpoint was written (after the one-time check):
    decode them all again before any step, naming every bad file."""
    files = [Path(p) for p, _ in data.source.samples]
    say(f"{spec['run']}: the training images changed since the checkpoint was written; decoding all {len(files)} again")
    bad = find_corrupt(files, spec["data"].get("num_workers", 0))
    if bad:
        lines = "\n".join(f"  {path}: {error}" for path, error in bad)
        raise CorruptImagesError(
            f"{len(bad)} of {len(files)} training images of {spec['run']} cannot be decoded (they changed after "
            f"the image check):\n{lines}\nThe run's checkpoint is kept. Replace these files from the original "
            "archive, then rerun (the image check reruns once its marker, data/checked/pretrain.json, is deleted).")
