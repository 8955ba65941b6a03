"""How well this project's SimCLR trainer learns against a standard loop of lightly's SimCLR parts,
at an equal budget: same backbone, data, batch, steps and lr schedule, same probe, same seeds.

Ours: ``ssl_core.training.pretrain`` of the profile's SimCLR baseline run of each seed (the spec
``ssl_core.config.run_matrix`` builds from ``--config``, its data root replaced by ``--data-root``).
Standard: a plain loop as lightly's SimCLR benchmark writes it (lightly ``benchmarks/imagenet/
resnet50/simclr.py``): the config's backbone as ``ssl_core.backbones`` builds it (torchvision's
init, no zero-init of the residual blocks' last BN), ``SimCLRProjectionHead`` (lightly's init and
output BN), ``NTXentLoss`` (the mean of the two directions), ``SimCLRTransform`` views with the
recipe's crop scale, blur probability and colour strength (loader-side, PIL), one forward of both
views, lightly's ``LARS`` with biases and norms out of weight decay and adaptation
(``get_weight_decay_parameters``), lightly's ``CosineWarmupScheduler`` per step (ending at 0) at
the recipe's peak lr and warm-up, and a shuffling ``DataLoader`` with ``drop_last``. Both sides
start from ``torch.manual_seed(seed)``. ``--ours-runs`` takes ours from finished runs of the same
specs instead (e.g. a profile's ``results/<profile>/pretrain``: the trainer is deterministic per
seed and thread count, so they are the weights a new run would give), probed here. Every backbone is probed by
``evaluations.linear_probe.train_linear_probe`` with the profile's ``eval.linear`` settings for
SimCLR and the run's seed. Reported: per-seed top-1 of each side, their means and the paired
difference ours - standard with its 95 % Student t interval (``evaluations.stats``), and each
side's wall and CPU seconds (pretraining, probe). The standard loop and the probes run on CPU, ours
on the config's ``train.device`` (``auto``: CPU where there is no GPU): a CPU benchmark.

    python -m benchmarks.standard_loop --data-root /work/main/results/verdict/data/shapes   # verdict, seeds 0-2
    python -m benchmarks.standard_loop --ours-runs results/verdict/pretrain --jobs 3        # ours already trained
    python -m benchmarks.standard_loop --tiny                                               # smoke (seconds)
"""
from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.models.utils import get_weight_decay_parameters
from lightly.transforms import SimCLRTransform
from lightly.utils.lars import LARS
from lightly.utils.scheduler import CosineWarmupScheduler
from torch import nn
from torch.utils.data import DataLoader

from benchmarks.common import ROOT, add_thread_option, emit, set_threads
from evaluations.linear_probe import train_linear_probe
from evaluations.stats import interval
from ssl_core.backbones import build_backbone, load_backbone
from ssl_core.config import linear_settings, load_config, run_id, run_matrix, training_spec
from ssl_core.datasets import pretrain_split
from ssl_core.optim import scaled_lr
from ssl_core.training import pretrain

METHOD = "simclr"


def standard_loop(spec: dict[str, Any]) -> nn.Module:
    """Train the backbone of ``spec`` (a SimCLR baseline run spec: its arch, recipe, data and seed)
    with lightly's parts in a plain loop; returns the backbone."""
    recipe, batch_size = spec["recipe"], spec["recipe"]["batch_size"]
    torch.manual_seed(spec["seed"])
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    head = SimCLRProjectionHead(backbone.feature_dim, recipe["proj_hidden_dim"], recipe["proj_out_dim"])
    criterion = NTXentLoss(temperature=recipe["temperature"])
    transform = SimCLRTransform(input_size=recipe["image_size"], min_scale=recipe["min_scale"],
                                gaussian_blur=recipe["blur_prob"], cj_strength=recipe.get("color_strength", 1.0))
    dataset = pretrain_split(spec["data"], "train", transform)
    loader = DataLoader(dataset, batch_size, shuffle=True, drop_last=True, num_workers=spec["data"]["num_workers"],
                        generator=torch.Generator().manual_seed(spec["seed"]))
    if len(loader) == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the dataset size {len(dataset)}")
    total, warmup = recipe["epochs"] * len(loader), recipe["warmup_epochs"] * len(loader)
    decay, no_decay = get_weight_decay_parameters([backbone, head])
    optimizer = LARS([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}],
                     lr=scaled_lr(recipe["base_lr"], batch_size, recipe["lr_scaling"], recipe.get("lr_ref_batch", 256)),
                     momentum=0.9, weight_decay=recipe["weight_decay"])
    scheduler = CosineWarmupScheduler(optimizer, warmup_epochs=warmup, max_epochs=total, end_value=0.0)
    backbone.train(), head.train()
    for _ in range(recipe["epochs"]):
        for (x0, x1), _ in loader:
            z0, z1 = head(backbone(torch.cat([x0, x1]))).chunk(2)
            loss = criterion(z0, z1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    return backbone.eval()


def ours(spec: dict[str, Any]) -> nn.Module:
    """Train ``spec`` with this project's trainer (outputs in a temporary folder); returns the backbone."""
    with tempfile.TemporaryDirectory(prefix="standard_loop-") as tmp:
        if not pretrain(spec, Path(tmp) / "out", Path(tmp) / "ckpt"):
            raise RuntimeError(f"{spec['run']} stopped before its last step")
        return load_backbone(Path(tmp) / "out" / "backbone.pt").eval()


def finished_run(spec: dict[str, Any], runs: Path) -> tuple[nn.Module, float]:
    """The backbone of ``spec``'s finished run in ``runs`` (``<run>/run.json`` and ``backbone.pt``,
    as ``ssl_core pretrain`` writes them), whose spec must be ``spec`` apart from the data root and
    whose torch thread count must be this process's (the trainer is bit-identical only at the same
    count), with its pretraining wall time: the sum of its steps' times in its ``metrics.jsonl``."""
    folder = runs / spec["run"]
    if not (folder / "run.json").exists():
        raise SystemExit(f"{folder}: no finished run (run.json) of {spec['run']}")
    run = json.loads((folder / "run.json").read_text())
    theirs, mine = copy.deepcopy(run["spec"]), copy.deepcopy(spec)
    theirs["data"].pop("root"), mine["data"].pop("root")
    if theirs != mine or run["steps"] != run["total_steps"]:
        raise SystemExit(f"{folder}: not a finished run of the benchmark's spec of {spec['run']}")
    if run.get("torch_threads") != torch.get_num_threads():
        raise SystemExit(f"{folder}: trained on {run.get('torch_threads')} torch threads, this process has "
                         f"{torch.get_num_threads()} (--threads)")
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    wall = sum(spec["recipe"]["batch_size"] / r["img_per_s"] for r in records)
    return load_backbone(folder / "backbone.pt").eval(), wall


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def measure(spec: dict[str, Any], linear: dict[str, Any], ours_runs: Path | None = None,
            threads: int = 1) -> dict[str, Any]:
    """Both sides on one seed: pretrain (or take ours from ``ours_runs``), probe, top-1 and times."""
    set_threads(threads)
    row: dict[str, Any] = {"seed": spec["seed"], "ours_from": str(ours_runs / spec["run"]) if ours_runs else None}
    for side, train in (("ours", ours), ("standard", standard_loop)):
        if side == "ours" and ours_runs:
            (backbone, wall), cpu = finished_run(spec, ours_runs), None
        else:
            backbone, wall, cpu = _timed(lambda: train(spec))
        probe, probe_wall, probe_cpu = _timed(lambda: train_linear_probe(
            backbone, spec["data"], linear, image_size=spec["recipe"]["image_size"], seed=spec["seed"],
            num_workers=spec["data"]["num_workers"]))
        row[side] = {"top1": probe["value"], "pretrain_wall_s": wall, "pretrain_cpu_s": cpu,
                     "probe_wall_s": probe_wall, "probe_cpu_s": probe_cpu}
    row["difference"] = row["ours"]["top1"] - row["standard"]["top1"]
    return row


def _summary(values: list[float]) -> dict[str, float]:
    iv = interval(values)
    return {"mean": iv.mean, "low": iv.low, "high": iv.high, "n": iv.n}


def specs(config: dict[str, Any], arch: str, seeds: list[int], data_root: str | None) -> list[dict[str, Any]]:
    """The config's SimCLR baseline run spec of each seed (data root replaced if given)."""
    runs = run_matrix(config)
    out = []
    for seed in seeds:
        name = run_id(METHOD, arch, "baseline", seed)
        if name not in runs:
            raise SystemExit(f"the config has no run {name!r} (its SimCLR experiments' seeds and archs)")
        spec = copy.deepcopy(training_spec(runs[name]))
        if data_root:
            spec["data"]["root"] = str(data_root)
        out.append(spec)
    return out


def tiny_config(root: Path) -> dict[str, Any]:
    """The smoke test's config: config/verdict.yaml with 2 epochs (1 of warm-up) of batch 16 on 64
    generated shapes images and a 1-epoch probe."""
    from ssl_core.datasets.shapes import generate_shapes

    generate_shapes(root, n_train=64, n_val=32, image_size=32, n_classes=8, seed=0)
    config = load_config(ROOT / "config" / "verdict.yaml")
    config["methods"][METHOD]["recipe"].update(epochs=2, warmup_epochs=1, batch_size=16)
    config["eval"]["linear"].update(epochs=1)
    return config


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.standard_loop", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="config/verdict.yaml", help="the profile whose SimCLR baseline runs are compared")
    p.add_argument("--data-root", help="the pretraining data (default: the config's data.pretrain.root)")
    p.add_argument("--arch", default="resnet_tiny")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ours-runs", help="a folder of finished runs of the same specs (e.g. results/verdict/pretrain): "
                   "ours is probed from there instead of trained again")
    p.add_argument("--jobs", type=int, default=1, help="seeds measured in parallel processes")
    p.add_argument("--tiny", action="store_true", help="smoke run: 2 epochs of batch 16 on 64 generated images")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="standard_loop-data-") as tmp:
        if args.tiny:
            config, data_root = tiny_config(Path(tmp) / "shapes"), Path(tmp) / "shapes"
        else:
            config, data_root = load_config(args.config), args.data_root
        runs = specs(config, args.arch, args.seeds, data_root)
        linear = linear_settings(config["eval"]["linear"], METHOD, args.arch)
        ours_runs = Path(args.ours_runs) if args.ours_runs else None
        if args.jobs > 1:  # seeds in parallel processes (spawned: a fresh torch each)
            with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                rows = list(pool.map(measure, runs, [linear] * len(runs), [ours_runs] * len(runs),
                                     [args.threads] * len(runs)))
        else:
            rows = [measure(spec, linear, ours_runs, args.threads) for spec in runs]
    recipe = runs[0]["recipe"]
    emit("standard_loop", config="tiny smoke" if args.tiny else args.config, arch=args.arch,
         data_root=str(runs[0]["data"]["root"]) if not args.tiny else "generated", seeds=args.seeds,
         batch_size=recipe["batch_size"], epochs=recipe["epochs"],
         zero_init_residual=recipe.get("zero_init_residual", True), probe=linear, runs=rows,
         ours=_summary([r["ours"]["top1"] for r in rows]), standard=_summary([r["standard"]["top1"] for r in rows]),
         difference=_summary([r["difference"] for r in rows]))


if __name__ == "__main__":
    main()
