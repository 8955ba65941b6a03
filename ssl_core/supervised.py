"""The ceiling of a generated-data profile: the backbone trained *with labels* on the pretraining
images (cross-entropy through a linear classifier), by the training loop (``ssl_core.training.pretrain``:
resume, atomic checkpoints, fault handling, the per-step log, lr scaling and schedule), the same way
out as a pretraining run: ``backbone.pt``, ``run.json`` and ``metrics.jsonl``, so the linear probe
and transfer jobs read it like any run.

What differs from a self-supervised run is all here: the objective (``SupervisedObjective``, not a
method of the registry) and the data (``LabelledData``), registered as the variant ``supervised``
(``ssl_core.training.variants``), so the loop itself names no supervised case. A deliberately plain recipe (the config's
``references.supervised``): random resized crop + flip, AdamW or SGD with a linear warm-up and
cosine decay per step, no label smoothing or mixing. An epoch's data order and views come from one
stream of torch's global RNG seeded at its start (``seeding.supervised_epoch_seed``), so the trainer
checkpoints such a run at the end of each epoch and a resumed run repeats exactly what an
uninterrupted one does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssl_core.augment.common import N_UNIFORMS, ViewSpec, device_views
from ssl_core.augment.originals import original_transform
from ssl_core.backbones import build_backbone
from ssl_core.datasets import pretrain_split
from ssl_core.methods.base import MethodOutput, StepInfo, Trainable
from ssl_core.seeding import supervised_epoch_seed
from ssl_core.training.loop import pretrain
from ssl_core.training.variants import VARIANTS, Variant


def train_view(size: int, min_scale: float) -> ViewSpec:
    """The supervised view: ``RandomResizedCrop(size, (min_scale, 1))`` + flip, no colour, made on
    the device in batches from uint8 originals (ssl_core.augment.common, tested against torchvision's)."""
    return ViewSpec(size, (min_scale, 1.0), jitter=(0.0, 0.0, 0.0, 0.0), jitter_prob=0.0, grey_prob=0.0)


class SupervisedObjective(Trainable):
    """Cross-entropy of a linear classifier on the backbone's features: what the trainer's step
    (``ssl_core.training.step.TrainStep``) drives in place of a self-supervised method. ``z_a``/``z_b``
    are the backbone's features (logged as ``emb_std``; no embedding collapse test: labels cannot
    collapse); the step's labels come in ``StepInfo.targets``."""

    embedding_collapse_test = False

    def __init__(self, backbone: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.feature_dim, n_classes)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "SupervisedObjective":
        """Built in the order of the former stand-alone loop (backbone, then classifier), so the
        same seed gives the same initial weights."""
        backbone = build_backbone(spec["arch"], **spec["recipe"].get("backbone", {}))
        return cls(backbone, len(pretrain_split(spec["data"], "train").classes))

    def forward(self, views: list[torch.Tensor], step: StepInfo | None = None) -> MethodOutput:
        features = self.backbone(views[0])
        logits = self.head(features)
        y = step.targets.to(logits.device)
        loss = nn.functional.cross_entropy(logits, y)
        correct = (logits.detach().argmax(1) == y).float().sum()
        return MethodOutput(loss, features, features, {"train_top1": 100.0 * correct / len(y), "train_correct": correct})

    @staticmethod
    def final_record(records: list[dict[str, Any]], steps_per_epoch: int, batch_size: int) -> dict[str, Any]:
        """run.json's ``final``: the last epoch's mean loss and training top-1 (summed per image in
        step order, as the former stand-alone loop did), not the last step's record."""
        loss_sum = correct = seen = 0.0
        for r in records[-steps_per_epoch:]:
            loss_sum += r["loss"] * batch_size
            correct += r["train_correct"]
            seen += batch_size
        epoch = len(records) // steps_per_epoch
        return {"epoch": epoch, "step": epoch * steps_per_epoch, "loss": loss_sum / seen,
                "train_top1": 100.0 * correct / seen}


class LabelledData:
    """The data of a supervised run, for the trainer's loop: (uint8 original, label) items; an
    epoch's order and its views' draws from torch's global RNG seeded at the epoch's start, in the
    order torch's ``DataLoader(shuffle=True)`` drew them (its iterator's base seed, the sampler's
    seed, then one ``torch.rand`` per batch), so the ceiling's numbers are those of the stand-alone
    loop it replaced."""

    checkpoint_at_pass_ends = True  # the epoch's RNG stream cannot be restarted mid-epoch

    def __init__(self, spec: dict[str, Any], rank: int = 0) -> None:
        recipe = spec["recipe"]
        self.seed = spec["seed"]
        self.source = pretrain_split(spec["data"], "train", original_transform(recipe["image_size"]))
        self.dataset = self.source
        self.view = train_view(recipe["image_size"], recipe["min_scale"])

    def start_pass(self, epoch: int) -> None:
        pass

    def order(self, epoch: int) -> torch.Tensor:
        """The epoch's permutation of the images; leaves the global RNG where its views draw from."""
        torch.manual_seed(supervised_epoch_seed(self.seed, epoch))
        torch.empty((), dtype=torch.int64).random_()  # the DataLoader iterator's base seed (unused at 0 workers)
        sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())  # RandomSampler's
        return torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(sampler_seed))

    def begin_step(self, step: int) -> None:
        """No per-step seed: the epoch's stream goes on (and no strong views: no rescue term)."""
        return None

    def inputs(self, images: torch.Tensor, labels: torch.Tensor, device: torch.device):
        u = torch.rand(len(images), N_UNIFORMS, dtype=torch.float64)  # the views' draws, from the epoch's stream
        return [device_views(images.to(device), u, self.view)], images, labels


def train_supervised(spec: dict[str, Any], out_dir: str | Path, ckpt_dir: str | Path,
                     max_epochs: int | None = None) -> bool:
    """Train ``spec["arch"]`` with labels per ``spec["recipe"]`` (keys: epochs, batch_size,
    optimizer, base_lr (at batch 256, scaled linearly), weight_decay, warmup_epochs, min_scale,
    image_size, backbone) by the trainer's loop; write the run's outputs to ``out_dir``. Returns True
    when done, False when stopped (resumably) after ``max_epochs`` epochs of this call."""
    steps = None
    if max_epochs is not None:
        steps = max_epochs * (len(pretrain_split(spec["data"], "train")) // spec["recipe"]["batch_size"])
    return pretrain(spec, out_dir, ckpt_dir, max_steps=steps)


VARIANTS.register("supervised")(Variant(SupervisedObjective.from_spec, LabelledData))
