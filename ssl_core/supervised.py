"""The ceiling of a generated-data profile: the backbone trained *with labels* on the pretraining
images (cross-entropy through a linear classifier), the same way out as a pretraining run:
``backbone.pt``, ``run.json`` and ``metrics.jsonl``, so the linear probe and transfer jobs read it
like any run.

A deliberately plain recipe (the config's ``references.supervised``): random resized crop + flip,
AdamW or SGD with a linear warm-up and cosine decay per step, no label smoothing or mixing. Training
state is checkpointed at the end of every epoch into ``ckpt_dir`` and resumed from there.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ssl_core.augment.common import N_UNIFORMS, ViewSpec, device_views
from ssl_core.augment.originals import original_transform
from ssl_core.backbones import build_backbone
from ssl_core.datasets import pretrain_split
from ssl_core.distributed import resolve_device
from ssl_core.io import atomic_path
from ssl_core.seeding import model_init_seed, supervised_epoch_seed
from ssl_core.optim import build_optimizer, lr_at, param_groups
from ssl_core.trainer import METRICS, resume_state, save_checkpoint, say, training_layout, write_run


def train_view(size: int, min_scale: float) -> ViewSpec:
    """The supervised view: ``RandomResizedCrop(size, (min_scale, 1))`` + flip, no colour, made on
    the device in batches from uint8 originals (ssl_core.augment.common, tested against torchvision's)."""
    return ViewSpec(size, (min_scale, 1.0), jitter=(0.0, 0.0, 0.0, 0.0), jitter_prob=0.0, grey_prob=0.0)


def train_supervised(spec: dict[str, Any], out_dir: str | Path, ckpt_dir: str | Path,
                     max_epochs: int | None = None) -> bool:
    """Train ``spec["arch"]`` with labels per ``spec["recipe"]`` (keys: epochs, batch_size,
    optimizer, base_lr (at batch 256, scaled linearly), weight_decay, warmup_epochs, min_scale,
    image_size, backbone); write the run's outputs to ``out_dir``. Returns True when done, False
    when stopped (resumably) after ``max_epochs`` epochs of this call."""
    recipe, seed = spec["recipe"], spec["seed"]
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    device = resolve_device(spec["train"]["device"])
    torch.manual_seed(model_init_seed(seed))
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    train_set = pretrain_split(spec["data"], "train", original_transform(recipe["image_size"]))
    view = train_view(recipe["image_size"], recipe["min_scale"])
    model = nn.Sequential(backbone, nn.Linear(backbone.feature_dim, len(train_set.classes))).to(device)
    layout = training_layout(backbone)  # channels-last for convnets, as the pretraining step
    model.to(memory_format=layout)
    peak_lr = recipe["base_lr"] * recipe["batch_size"] / 256
    optimizer = build_optimizer(param_groups(model, recipe["weight_decay"]), recipe["optimizer"], peak_lr)
    steps_per_epoch = len(train_set) // recipe["batch_size"]
    total, warmup = recipe["epochs"] * steps_per_epoch, recipe["warmup_epochs"] * steps_per_epoch

    epoch = 0
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    state = resume_state(ckpt_dir, spec, device, main=True)  # another spec's or a damaged one: set aside
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch = state["epoch"]
        say(f"{spec['run']}: resuming from epoch {epoch} of {recipe['epochs']} ({state['path']})")
    records = [json.loads(line) for line in (ckpt_dir / METRICS).read_text().splitlines()[:epoch]] \
        if epoch else []
    stop_at = recipe["epochs"] if max_epochs is None else min(recipe["epochs"], epoch + max_epochs)
    model.train()
    for epoch in tqdm(range(epoch, stop_at), desc=spec["run"], unit="epoch"):
        # The data order and augmentations of an epoch depend on (seed, epoch) only: a resumed run
        # repeats exactly what an uninterrupted one does.
        torch.manual_seed(supervised_epoch_seed(seed, epoch))
        loader = DataLoader(train_set, recipe["batch_size"], shuffle=True, drop_last=True,
                            num_workers=spec["data"].get("num_workers", 0))
        loss_sum = correct = seen = 0.0
        for i, (x, y) in enumerate(loader):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total, warmup, peak_lr)
            u = torch.rand(len(x), N_UNIFORMS, dtype=torch.float64)  # the views' draws, seeded per epoch
            x = device_views(x.to(device), u, view).contiguous(memory_format=layout)
            y = y.to(device)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        records.append({"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch, "loss": loss_sum / seen,
                        "train_top1": 100.0 * correct / seen})
        with atomic_path(ckpt_dir / METRICS) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
        save_checkpoint({"spec": spec, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "epoch": epoch + 1}, ckpt_dir)
    if len(records) < recipe["epochs"]:
        return False
    collapse = None if records and math.isfinite(records[-1]["loss"]) else "nan_loss"
    write_run(out_dir, spec, backbone, ckpt_dir / METRICS, records, total, total, steps_per_epoch, collapse)
    return True
