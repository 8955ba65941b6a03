"""Compute budget of a profile: the device-hours each run needs, from step times measured here.

For every run of the config this times a few training steps (``ssl_core.training.TrainStep``, the
trainer's own step) of its model at a small batch b on the machine at hand, and scales linearly
to the recipe: step(N, k) = N * t_image + k * t_strong, with t_image the baseline's time per
image at batch b and t_strong the rescued run's extra time per strong view; hours = total steps *
step(N, k) / 3600. Runs that share (method, arch, variant, recipe apart from batch and schedule)
share one measurement; a random_init run (the floor) costs nothing, and the supervised ceiling of
the generated-data profiles is left out. A figure measured on a CPU is CPU time, not GPU time: the CSV names the
device it was measured on.

    python -m ssl_core budget --configfile config/paper.yaml [--batch 8 --steps 3 --out budget.csv]
"""
from __future__ import annotations

import csv
import io
import json
import platform
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

from ssl_core.augment.common import loader_views
from ssl_core.augment.originals import original_size, original_transform
from ssl_core.config import run_matrix, run_spec
from ssl_core.methods import METHODS, StepInfo

# Training images of the pretraining datasets (official splits), for steps per epoch.
TRAIN_SIZES = {"imagenet": 1_281_167, "cifar10": 50_000, "cifar100": 50_000}


def train_size(config: dict[str, Any]) -> int:
    data = config["data"]["pretrain"]
    if data["name"] == "shapes":
        return config["data"]["shapes"]["n_train"]
    return TRAIN_SIZES[data["name"]]


def synthetic_batch(spec: dict[str, Any], source_size: int | None = None, seed: int = 0
                    ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One batch as the loader yields it: the method's views (their real shapes, e.g. DINOv2's
    multi-crop) and the uint8 originals, made from random images by the run's own transforms."""
    size, n = spec["recipe"]["image_size"], spec["recipe"]["batch_size"]
    views_of = loader_views(METHODS.get(spec["method"]).view_specs(spec["recipe"]))
    original = original_transform(original_size(spec["recipe"]))
    rng = np.random.default_rng(seed)
    side = source_size or size + size // 4
    images = [Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(n)]
    items = [(views_of(img), original(img)) for img in images]
    views = [torch.stack([item[0][v] for item in items]) for v in range(len(items[0][0]))]
    return views, torch.stack([item[1] for item in items])


def _step_seconds(spec: dict[str, Any], device: torch.device, steps: int) -> float:
    """Fastest of ``steps`` timed training steps (after one warm-up step)."""
    from ssl_core.training import build_train_step

    torch.manual_seed(0)
    train_step = build_train_step(spec, device)
    views, originals = synthetic_batch(spec)
    info = StepInfo(0, 1000, 100)
    # GPU: wall time between synchronisations; CPU: this process's CPU time (core-seconds, not
    # inflated by other processes on a shared machine).
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    best = float("inf")
    for i in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        tic = clock()
        train_step(views, originals, info, torch.Generator().manual_seed(i))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            best = min(best, clock() - tic)
    return best


MEASURED_K = 2  # strong views of the timed rescued steps


def _small(config: dict[str, Any], spec: dict[str, Any], variant: str, batch: int) -> dict[str, Any]:
    """The run ``spec`` as the ``variant`` timed at ``batch`` (rescued: MEASURED_K strong views, its
    s and rescue rule, else its method's), through the one run-spec function."""
    rescue = {**config["methods"][spec["method"]]["rescue"], **(spec.get("rescue") or {})}
    k, s = (MEASURED_K, spec["s"] if spec["s"] is not None else rescue["s"]) if variant == "rescued" else (None, None)
    timed = {**config, "train": {**config["train"], "ckpt_every_steps": 1}}
    return run_spec(timed, spec["method"], spec["arch"], variant, spec["seed"], {**spec["recipe"], "batch_size": batch},
                    k, s, rescue=rescue if variant == "rescued" else None)


def compute_budget(config: dict[str, Any], device: torch.device, batch: int = 8, steps: int = 3) -> list[dict[str, Any]]:
    """One row per run of ``config`` (see the module docstring), then a ``total`` row."""
    n_train = train_size(config)
    per_image_of: dict[str, float] = {}  # baseline seconds per image, per model
    per_strong_of: dict[str, float] = {}  # extra seconds per strong view, per model
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; CPU time, not GPU time)"
    rows = []
    for run, spec in run_matrix(config).items():
        if spec["variant"] == "supervised":
            continue  # the ceiling of the generated-data profiles: not a run of the paper's budget
        recipe = spec["recipe"]
        if spec["variant"] == "random_init":  # the floor: the initial weights, no step
            rows.append({"run": run, "method": spec["method"], "arch": spec["arch"], "variant": spec["variant"],
                         "total_steps": 0, "hours": 0.0, "device": device_name})
            continue
        key = json.dumps([spec["method"], spec["arch"],
                          {k: v for k, v in recipe.items() if k not in ("batch_size", "epochs", "warmup_epochs")}],
                         sort_keys=True)
        if key not in per_image_of:
            per_image_of[key] = _step_seconds(_small(config, spec, "baseline", batch), device, steps) / batch
        per_image, per_strong = per_image_of[key], 0.0
        if spec["variant"] == "rescued":
            if key not in per_strong_of:
                rescued = _step_seconds(_small(config, spec, "rescued", batch), device, steps)
                per_strong_of[key] = max(0.0, rescued - per_image * batch) / MEASURED_K
            per_strong = per_strong_of[key]
        steps_per_epoch = recipe.get("epoch_length") or n_train // recipe["batch_size"]
        total_steps = recipe["epochs"] * steps_per_epoch
        step_s = recipe["batch_size"] * per_image + (spec["k"] or 0) * per_strong
        rows.append({"run": run, "method": spec["method"], "arch": spec["arch"], "variant": spec["variant"],
                     "batch_size": recipe["batch_size"], "k": spec["k"] or "", "image_size": recipe["image_size"],
                     "total_steps": total_steps, "measured_batch": batch, "s_per_image": per_image,
                     "s_per_strong_view": per_strong, "step_s": step_s, "hours": total_steps * step_s / 3600,
                     "device": device_name})
    rows.append({"run": "total", "hours": sum(r["hours"] for r in rows), "device": device_name})
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
