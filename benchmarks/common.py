"""What the benchmarks share: the configs' run specs, synthetic inputs, paired timing, the JSON line."""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from ssl_core.budget import synthetic_batch  # noqa: F401  (re-exported for the benchmarks)
from ssl_core.config import load_config, run_spec

ROOT = Path(__file__).resolve().parents[1]


def load_profile(name: str) -> dict[str, Any]:
    """A validated config of the repository: ``tiny`` (config/config.yaml), ``paper``, ``cifar``."""
    path = ROOT / "config" / ("config.yaml" if name == "tiny" else f"{name}.yaml")
    return load_config(path)


def bench_spec(config: dict[str, Any], method: str, arch: str, variant: str, batch_size: int,
               image_size: int | None = None, recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run spec of ``config`` for (method, arch) at ``batch_size``; the rescued variant keeps the
    config's N/k (k >= 2, as the trainer requires), and ``image_size`` (if given) replaces the crop
    side everywhere the recipe states it; ``recipe`` overrides the method's recipe (an experiment's)."""
    recipe = {**config["methods"][method]["recipe"], **(recipe or {}), "batch_size": batch_size}
    if not arch.startswith("vit"):
        recipe.pop("backbone", None)  # ViT options of a recipe timed on a ResNet
    if image_size:
        if "original_size" in recipe:  # keep the originals' ratio to the crop (256 / 224)
            recipe["original_size"] = round(recipe["original_size"] * image_size / recipe["image_size"])
        recipe["image_size"] = image_size
        if arch.startswith("vit"):
            recipe["backbone"] = {**recipe.get("backbone", {}), "img_size": image_size}
    rescue = config["methods"][method]["rescue"]
    k = max(2, round(batch_size * rescue["k"] / config["methods"][method]["recipe"]["batch_size"]))
    on_cpu = {**config, "train": {**config["train"], "device": "cpu"}}
    spec = run_spec(on_cpu, method, arch, variant, 0, recipe, k if variant == "rescued" else None,
                    rescue["s"] if variant == "rescued" else None)
    return {**spec, "run": f"bench-{method}-{arch}-{variant}"}


def random_images(n: int, size: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def ideal_factor(views: list[torch.Tensor], k: int, strong_size: int) -> float:
    """(common + strong) / common forward cost, counted in pixels: (2N + k) / 2N for two views of
    the strong views' size; DINOv2's local crops count by their area."""
    common = sum(v.shape[0] * v.shape[-2] * v.shape[-1] for v in views)
    return (common + k * strong_size * strong_size) / common


def paired_times(fns: list[Callable[[], Any]], repeats: int, warmup: int = 1,
                 setup: Callable[[], Any] | None = None) -> list[list[float]]:
    """Run the functions in turn ``repeats`` times (after ``warmup`` rounds) and return their
    times per round; ``setup`` (untimed) runs before each call. The clock is this process's CPU time (``time.process_time``; the benchmarks
    run torch on one thread by default), so other processes on a shared machine do not inflate
    it; interleaving the functions keeps their ratios fair against cache and frequency drift."""
    for _ in range(warmup):
        for fn in fns:
            if setup:
                setup()
            fn()
    times: list[list[float]] = [[] for _ in fns]
    order = list(zip(fns, times))
    for r in range(repeats):
        for fn, out in order if r % 2 == 0 else order[::-1]:  # A B, B A, ...: drift cancels
            if setup:
                setup()
            tic = time.process_time()
            fn()
            out.append(time.process_time() - tic)
    return times


def add_thread_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: process CPU time then measures the work alone)")


def set_threads(n: int) -> None:
    torch.set_num_threads(n)


def ratio_of_minima(a: list[float], b: list[float]) -> float:
    """min(a) / min(b): load from other processes only ever adds time, so the fastest of the
    repeats is the least disturbed measurement of each."""
    return min(a) / min(b)


def machine() -> dict[str, Any]:
    return {"device": "cpu", "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "clock": "process_time"}


def emit(name: str, **fields: Any) -> None:
    print(json.dumps({"benchmark": name, **machine(), **fields}, sort_keys=True))


class Snapshot:
    """The state of modules and optimizers, restored before every timed step so each step computes
    on the same weights (a few steps at a recipe's peak lr can drive weights to denormals or NaN,
    whose arithmetic is many times slower on CPU and would skew a comparison)."""

    def __init__(self, *objects: Any) -> None:
        self.objects = objects
        self.states = [copy.deepcopy(o.state_dict()) for o in objects]

    def restore(self) -> None:
        for o, state in zip(self.objects, self.states):
            o.load_state_dict(state)
