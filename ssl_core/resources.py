"""GPU-hours, wall time and peak memory of every job kind of a profile, from FLOP counts.

``ssl_core.budget`` times training steps on the machine at hand (CPU core-hours of pretraining).
This module estimates what a GPU cluster needs for every job kind of the DAG: the data check,
pretraining (per method, architecture and variant), the linear probe, the transfer cells and the
dense fine-tuning. Nothing here needs a GPU:

- **FLOPs**: ``torch.utils.flop_counter.FlopCounterMode`` over the real backbones (ResNet-50,
  ViT-S/B/L with the recipe's options) on the ``meta`` device (shapes only, no arithmetic), a
  forward and a forward + backward per image at each view size the method uses. A step is then
  N x (student views forward + backward, teacher / momentum views forward) + k strong views
  forward + backward (the rescue term). The heads (projectors, DINO heads) are left out: under
  ~5 % of a step for these backbones, inside the utilisation margin.
- **Device time** = FLOPs / (peak x utilisation) of :data:`GPU` (assumed, stated in the table):
  H100 SXM dense bf16 989 TFLOP/s for the bf16-autocast jobs (pretraining, dense), TF32 495 for
  the fp32 probe's convolutions (cuDNN's default) and plain fp32 67 for its ViT matmuls;
  utilisation 0.25 for ResNets, 0.40 for ViTs and 0.10 for Detectron2's fine-tuning (RPN,
  RoI ops, NMS and a per-image loader between the convolutions); assumptions, not measurements.
  Cross-check: Detectron2's model zoo trains R50-C4 COCO 2x at 0.551 s/iteration on 8 V100
  (fp32, 15.7 TFLOP/s each); the count here (~41 TFLOP an iteration) gives 0.33 s at full use.
- **Loader time**: the images each job decodes and augments x the CPU seconds per image measured
  here (:func:`decode_seconds`: PIL decode of a 500 x 375 JPEG, ImageNet's mean size, plus the
  job's own transform) / the job's CPUs. A job's wall time is the larger of device and loader time.
- **Peak GPU memory per process**: parameters, gradients and optimiser state in fp32 (LARS one
  buffer, AdamW two; a teacher / momentum copy), plus the activation bytes saved for backward per
  image, measured as the growth of ``saved_tensors_hooks`` bytes from batch 1 to 2 on ``meta``
  under bf16 autocast (math attention: an upper bound where flash attention keeps O(N) per head)
  x the per-process batch and views. Forward-only jobs (probe, transfer features): fp32
  parameters + three of the largest activation (fp32) per image x the batch.

    python -m ssl_core resources --configfile config/paper.yaml [--out resources.csv]

docs/scaling.md has the table for the paper profile and how config/cluster.example.yaml follows it.
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from PIL import Image

#: The assumed accelerator (peak dense throughput, TFLOP/s; memory, GiB) and utilisations.
GPU = {"name": "NVIDIA H100 SXM 80GB", "bf16_tflops": 989.0, "tf32_tflops": 494.7, "fp32_tflops": 66.9,
       "memory_gib": 80.0}
UTILISATION = {"resnet": 0.25, "vit": 0.40, "detection": 0.10}
#: Assumed CPU throughput of the transfer jobs' L-BFGS (numpy BLAS, GFLOP/s per core).
CPU_GFLOPS_PER_CORE = 20.0
#: Images of the official splits (torchvision / the papers): ImageNet-1K train and val; per
#: transfer dataset, train + val + test as the suite reads them (evaluations.transfer).
IMAGENET = {"train": 1_281_167, "val": 50_000}
TRANSFER_IMAGES = {"cifar10": 60_000, "cifar100": 60_000, "food101": 101_000, "sun397": 108_754, "dtd": 5_640,
                   "pets": 7_349, "aircraft": 10_000, "voc2007": 9_963, "flowers": 8_189, "caltech101": 9_144}
TRANSFER_CLASSES = {"cifar10": 10, "cifar100": 100, "food101": 101, "sun397": 397, "dtd": 47, "pets": 37,
                    "aircraft": 100, "voc2007": 20, "flowers": 102, "caltech101": 102}
VOC_TRAIN, COCO_TRAIN = 16_551, 118_287  # VOC07+12 trainval, COCO train2017
#: Teacher (no-grad) forwards per method: the momentum encoder / teacher sees the global views.
TEACHER_VIEWS = {"simclr": 0, "mocov3": 2, "byol": 2, "dinov2": 2}
OPTIMISER_BUFFERS = {"lars": 1, "sgd": 1, "adamw": 2}
#: Job kinds that resume where a cut left them (checkpoints); a transfer cell's L-BFGS restarts,
#: so one attempt must hold it (its features come back from the cache).
RESUMES_MIDWAY = ("check", "pretrain", "linear", "dense")


def _family(arch: str) -> str:
    return "vit" if arch.startswith("vit") else "resnet"


@dataclass(frozen=True)
class Cost:
    """Per image at one input size: FLOPs of a forward, of a forward + backward, activation bytes
    saved for backward (bf16 autocast), the largest single saved activation (bytes, bf16) and the
    parameters."""
    fwd: float
    fwd_bwd: float
    saved_bytes: float
    params: int
    largest_bytes: float = 0.0


@lru_cache(maxsize=None)
def backbone_cost(arch: str, size: int, kwargs_key: tuple = ()) -> Cost:
    """FLOPs and saved-activation growth per image of ``arch`` at ``size`` px (meta device); with
    ``activation_checkpointing`` the recomputation's FLOPs and the peak of the backward (the blocks'
    inputs plus one block's activations)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ssl_core.backbones import build_backbone

    kwargs = dict(kwargs_key)
    kwargs.pop("stop_grad_patch_embed", None)  # backward through the patch projection: an upper bound
    with torch.device("meta"):
        model = build_backbone(arch, **kwargs)
    params = sum(p.numel() for p in model.parameters())
    flops, saved, largest = {}, {}, 0.0
    for batch in (1, 2):
        nbytes = []

        def pack(t: torch.Tensor) -> torch.Tensor:
            nbytes.append(t.numel() * t.element_size())
            return t

        x = torch.empty(batch, 3, size, size, device="meta")
        with FlopCounterMode(display=False) as counter:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                    torch.autocast("cpu", dtype=torch.bfloat16):
                y = model(x)
            fwd = counter.get_total_flops()
            y.float().sum().backward()
        flops[batch] = (fwd, counter.get_total_flops())
        saved[batch] = sum(nbytes)
        largest = max(nbytes) / batch
    saved_bytes = saved[2] - saved[1]
    if getattr(model, "grad_checkpointing", False):
        # checkpointed blocks keep only their inputs (what the hooks saw); the backward recomputes one
        # block at a time, holding that block's activations on top: one block's share of the full saves
        full = backbone_cost(arch, size, tuple((k, v) for k, v in kwargs_key if k != "activation_checkpointing"))
        saved_bytes += full.saved_bytes / len(model.blocks)
    return Cost(fwd=flops[2][0] - flops[1][0], fwd_bwd=flops[2][1] - flops[1][1],
                saved_bytes=saved_bytes, params=params, largest_bytes=largest)


def _cost(spec_arch: str, size: int, kwargs: dict | None) -> Cost:
    key = tuple(sorted((k, v) for k, v in (kwargs or {}).items() if not isinstance(v, (dict, list))))
    return backbone_cost(spec_arch, size, key)


def decode_seconds(transform=None, repeats: int = 20) -> float:
    """CPU seconds per image (this process's CPU time) to decode a 500 x 375 JPEG and apply
    ``transform`` (e.g. a method's view transform) on this machine."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500]
    pixels = np.stack([(xx * 0.5 + yy * 0.2) % 256, (yy * 0.6) % 256, (xx * 0.3 + 40) % 256], -1)
    pixels = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)  # ~110 KB: ImageNet's mean file size
    data = buffer.getvalue()
    best = float("inf")
    for _ in range(3):
        tic = time.process_time()
        for _ in range(repeats):
            img = Image.open(io.BytesIO(data)).convert("RGB")
            if transform is not None:
                transform(img)
        best = min(best, (time.process_time() - tic) / repeats)
    return best


def _hours(flops: float, tflops: float, utilisation: float, gpus: int) -> float:
    """Wall hours of ``flops`` on ``gpus`` GPUs."""
    return flops / (tflops * 1e12 * utilisation * gpus) / 3600


def _job(config: dict[str, Any], kind: str) -> dict[str, Any]:
    cluster = config.get("cluster", {})
    job = cluster.get(kind) or (cluster.get("evaluate", {}) if kind in ("linear", "transfer", "dense") else {})
    return {"gpus": max(job.get("gpus_per_node", 0), 0) * job.get("nodes", 1), "cpus": job.get("cpus_per_task", 1) * job.get("nodes", 1),
            "nodes": job.get("nodes", 1)}


def estimate(config: dict[str, Any], decode_s: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per job kind (pretraining per method, architecture and variant) of ``config``, its
    count in the DAG, and per job: FLOPs, GPU-hours, wall hours on the config's ``cluster``
    resources, and peak GPU memory per process. ``decode_s``: CPU seconds per image for ``view``
    (a method's training views), ``probe`` (RandomResizedCrop + flip), ``eval`` (centre crop) and
    ``decode`` (decode only); measured here when absent."""
    from ssl_core.config import run_matrix
    from ssl_core.methods import METHODS

    decode_s = decode_s or measured_decode_seconds()
    runs = run_matrix(config)
    rows: list[dict[str, Any]] = []
    n_train = IMAGENET["train"]

    # the data check: every pretraining image decoded once, in cluster.check's processes
    check = config["data"].get("check", {})
    sample = check.get("sample", 0) or n_train + IMAGENET["val"]
    cpus = _job(config, "check")["cpus"] if config.get("cluster", {}).get("check") else check.get("workers", 1)
    rows.append({"kind": "check", "what": "ImageNet images decoded once", "jobs": 1, "images": sample,
                 "tflop": 0.0, "gpu_hours": 0.0, "wall_hours": sample * decode_s["decode"] / max(cpus, 1) / 3600,
                 "peak_gpu_gib": 0.0, "resources": "check"})

    seen: dict[tuple, dict[str, Any]] = {}
    for spec in runs.values():
        if spec["variant"] in ("random_init", "supervised"):
            continue
        key = (spec["method"], spec["arch"], spec["variant"])
        if key in seen:
            seen[key]["jobs"] += 1
            continue
        r, method = spec["recipe"], METHODS.get(spec["method"])
        sizes = [v.size for v in method.view_specs(r)]
        kwargs = r.get("backbone") or {}
        main = _cost(spec["arch"], r["image_size"], kwargs)
        per_image = sum(_cost(spec["arch"], s, kwargs).fwd_bwd for s in sizes) + TEACHER_VIEWS.get(spec["method"], 0) * main.fwd
        n = r["batch_size"]
        k = spec["k"] or 0
        step_flops = n * per_image + k * main.fwd_bwd
        steps = r["epochs"] * (r.get("epoch_length") or n_train // n)
        job = _job(config, "pretrain")
        gpus = max(job["gpus"], 1)
        util = UTILISATION[_family(spec["arch"])]
        device_h = _hours(steps * step_flops, GPU["bf16_tflops"], util, gpus)
        loader_h = steps * n * decode_s["view"] * len(sizes) / 2 / max(job["cpus"], 1) / 3600
        buffers = 4 * main.params * (2 + OPTIMISER_BUFFERS.get(r["optimizer"], 2)) + \
            (4 * main.params if TEACHER_VIEWS.get(spec["method"]) else 0)
        per_process = n / gpus
        acts = per_process * sum(_cost(spec["arch"], s, kwargs).saved_bytes for s in sizes) + k / gpus * main.saved_bytes
        seen[key] = {"kind": "pretrain", "what": f"{spec['method']} {spec['arch']} {spec['variant']}", "jobs": 1,
                     "images": steps * n, "tflop": steps * step_flops / 1e12,
                     "gpu_hours": device_h * gpus, "wall_hours": max(device_h, loader_h),
                     "peak_gpu_gib": (buffers + acts) / 2**30, "resources": "pretrain"}
    rows += seen.values()

    # the linear probe: a frozen forward (fp32) of every training image, every epoch
    lin = config["eval"]["linear"]
    from ssl_core.config import linear_settings

    probes: dict[tuple, dict[str, Any]] = {}
    for spec in runs.values():
        if spec["variant"] == "supervised":
            continue
        cfg = linear_settings(lin, spec["method"], spec["arch"])
        key = (cfg.get("protocol", "main_lincls"), spec["arch"])
        if key in probes:
            probes[key]["jobs"] += 1
            continue
        cost = _cost(spec["arch"], spec["recipe"]["image_size"], spec["recipe"].get("backbone") or {})
        images = cfg["epochs"] * (cfg.get("epoch_length", 0) * cfg["batch_size"] or n_train)
        family = _family(spec["arch"])
        tflops = GPU["tf32_tflops"] if family == "resnet" else GPU["fp32_tflops"]
        job = _job(config, "linear")
        gpus = max(job["gpus"], 1)
        device_h = _hours(images * cost.fwd, tflops, UTILISATION[family], gpus)
        loader_h = images * decode_s["probe" if cfg["augment"] else "eval"] / max(job["cpus"], 1) / 3600
        # no backward into the backbone: fp32 parameters + the batch's largest activation in fp32,
        # three alive at once (a layer's input, output and a temporary)
        peak = 4 * cost.params + cfg["batch_size"] / gpus * 3 * 2 * cost.largest_bytes
        probes[key] = {"kind": "linear", "what": f"{key[0]} {spec['arch']}", "jobs": 1, "images": images,
                       "tflop": images * cost.fwd / 1e12, "gpu_hours": device_h * gpus,
                       "wall_hours": max(device_h, loader_h), "peak_gpu_gib": peak / 2**30, "resources": "linear"}
    rows += probes.values()

    # transfer: one forward of every image of a dataset (centre crops) + L-BFGS over the C grid (CPU)
    tr = config["eval"]["transfer"]
    trained = [s for s in runs.values() if s["variant"] != "supervised"]
    job = _job(config, "transfer")
    for arch in sorted({s["arch"] for s in trained}):
        cost = _cost(arch, 224, next(s["recipe"].get("backbone") or {} for s in trained if s["arch"] == arch))
        dim = {"resnet50": 2048, "vit_small": 384, "vit_base": 768, "vit_large": 1024}.get(arch, 2048)
        worst = max(tr["datasets"], key=lambda d: TRANSFER_IMAGES.get(d, 0) * TRANSFER_CLASSES.get(d, 1))
        n_img = TRANSFER_IMAGES.get(worst, 0)
        fits = tr["grid"]["num"] + 1  # the grid on train, the refit on train + val
        lbfgs = fits * tr.get("max_iter", 1000) * 2 * 2 * n_img * dim * TRANSFER_CLASSES.get(worst, 1)
        cpu_h = lbfgs / (CPU_GFLOPS_PER_CORE * 1e9 * max(job["cpus"], 1)) / 3600
        loader_h = n_img * decode_s["eval"] / max(job["cpus"], 1) / 3600
        device_h = _hours(n_img * cost.fwd, GPU["tf32_tflops"], UTILISATION[_family(arch)], max(job["gpus"], 1))
        rows.append({"kind": "transfer", "what": f"{arch}: largest cell ({worst}; L-BFGS at max_iter, an upper bound)",
                     "jobs": sum(s["arch"] == arch for s in trained) * len(tr["datasets"]), "images": n_img,
                     "tflop": (n_img * cost.fwd + lbfgs) / 1e12, "gpu_hours": device_h * max(job["gpus"], 1),
                     "wall_hours": device_h + max(loader_h, 0) + cpu_h,
                     "peak_gpu_gib": (4 * cost.params + tr.get("batch_size", 256) * 3 * 2 * cost.largest_bytes) / 2**30,
                     "resources": "transfer"})

    # dense: Detectron2 R50-C4 (res2-res4 on the image, res5 on 512 RoIs of 14 x 14) / ViTDet-B at 1024 px
    rows += _dense_rows(config, runs)
    return rows


def _dense_rows(config: dict[str, Any], runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    from evaluations.dense import dense_runs  # the DAG's own selection of dense jobs (pure config logic)

    dense = config["eval"].get("dense") or {}
    selected = dense_runs(config, runs)
    job = _job(config, "dense")
    gpus = max(job["gpus"], 1)
    rows = []
    for family, schedules in ((f, dense.get(f)) for f in ("resnet", "vit")):
        if not schedules:
            continue
        archs = sorted({runs[r]["arch"] for r in selected if _family(runs[r]["arch"]) == family})
        for arch in archs:
            for task, s in sorted(schedules.items()):
                side = s["min_size_train"][len(s["min_size_train"]) // 2]
                long_side = s.get("max_size_train", side)
                if family == "resnet":
                    # res2-res4: the full network at the (short x long) image, less res5's share at that size;
                    # res5 on RoIs: the full network's layer4 at a 224 input sees 14 x 14 as res5 here
                    full = backbone_cost(arch, 224).fwd_bwd * (side * min(long_side, side * 4 / 3)) / 224**2
                    res5 = _layer4_share(arch) * backbone_cost(arch, 224).fwd_bwd
                    per_image = full * (1 - _layer4_share(arch)) + s.get("roi_batch_size_per_image", 512) * res5
                    saved = backbone_cost(arch, 224).saved_bytes * (side * side * 4 / 3) / 224**2
                else:  # ViTDet's window attention: windows of 14 x 14 tokens, each a 224 px image's worth
                    windows = (side / 224) ** 2
                    c = backbone_cost(arch, 224)
                    per_image, saved = c.fwd_bwd * windows, c.saved_bytes * windows
                images = s["max_iter"] * s["ims_per_batch"]
                device_h = _hours(images * per_image, GPU["bf16_tflops"], UTILISATION["detection"], gpus)
                params = backbone_cost(arch, 224).params
                rows.append({"kind": "dense", "what": f"{task} {arch} ({s['max_iter']} it x {s['ims_per_batch']})",
                             "jobs": sum(runs[r]["arch"] == arch for r in selected), "images": images,
                             "tflop": images * per_image / 1e12, "gpu_hours": device_h * gpus, "wall_hours": device_h,
                             "peak_gpu_gib": (16 * params + s["ims_per_batch"] / gpus * saved) / 2**30,
                             "resources": "dense"})
    return rows


@lru_cache(maxsize=None)
def _layer4_share(arch: str) -> float:
    """The share of a ResNet's forward + backward FLOPs in its last stage (res5) at 224 px."""
    from torch.utils.flop_counter import FlopCounterMode

    from ssl_core.backbones import build_backbone

    with torch.device("meta"):
        model = build_backbone(arch)
        x = torch.empty(1, 1024, 14, 14)
    with FlopCounterMode(display=False) as counter:
        model.layer4(x).sum().backward()
    return counter.get_total_flops() / backbone_cost(arch, 224).fwd_bwd


def measured_decode_seconds() -> dict[str, float]:
    """CPU seconds per image on this machine: decode only, the probe's RandomResizedCrop + flip,
    a centre crop, and one training view of the paper's recipes (RandomResizedCrop, colour jitter,
    greyscale, blur, flip: SimCLR's, the heaviest of the methods' views)."""
    from torchvision.transforms import v2

    from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD
    from ssl_core.augment.originals import eval_transform

    norm = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    probe = v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(), *norm])
    view = v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(),
                       v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8), v2.RandomGrayscale(0.2),
                       v2.RandomApply([v2.GaussianBlur(23, (0.1, 2.0))], p=0.5), *norm])
    return {"decode": decode_seconds(), "probe": decode_seconds(probe), "eval": decode_seconds(eval_transform(224, 256)),
            "view": decode_seconds(view)}


def over_memory(rows: list[dict[str, Any]]) -> list[str]:
    """Jobs whose estimated peak GPU memory per process exceeds :data:`GPU`'s: they need activation
    checkpointing, memory-efficient attention or a smaller per-process batch (gradient accumulation)."""
    return [f"{r['kind']} {r['what']}: {r['peak_gpu_gib']:.0f} GiB per GPU > {GPU['memory_gib']:.0f}"
            for r in rows if r["peak_gpu_gib"] > GPU["memory_gib"]]


def covered(rows: list[dict[str, Any]], config: dict[str, Any], retries: int) -> list[str]:
    """Job kinds whose runtime x retries (config ``cluster``) is below their estimated wall time:
    one line each (empty: every kind fits in its attempts, the first one spare for the work a cut
    loses)."""
    problems = []
    cluster = config.get("cluster", {})
    for row in rows:
        kind = row["resources"]
        job = cluster.get(kind) or (cluster.get("evaluate", {}) if kind in ("linear", "transfer", "dense") else {})
        attempts = retries if kind in RESUMES_MIDWAY else 1
        hours = job.get("runtime", 60) / 60 * attempts
        if row["wall_hours"] > hours:
            problems.append(f"{row['kind']} {row['what']}: needs {row['wall_hours']:.1f} h, cluster.{kind}.runtime"
                            + (f" x {retries} retries" if attempts > 1 else " (one attempt: it resumes only between splits)")
                            + f" = {hours:.1f} h")
    return problems


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def held(rows: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    """``rows`` with ``held_gpu_hours``: what a job holds of the cluster, its wall time x its GPUs
    (a loader-bound job holds its GPUs longer than its FLOPs need them)."""
    return [{**r, "held_gpu_hours": r["wall_hours"] * _job(config, r["resources"])["gpus"]} for r in rows]


def total(rows: list[dict[str, Any]]) -> dict[str, float]:
    """GPU-hours of the whole DAG: each kind's per-job figure x its number of jobs."""
    return {"gpu_hours": sum(r["gpu_hours"] * r["jobs"] for r in rows),
            "held_gpu_hours": sum(r.get("held_gpu_hours", 0.0) * r["jobs"] for r in rows),
            "jobs": sum(r["jobs"] for r in rows), "max_wall_hours": max(r["wall_hours"] for r in rows) if rows else math.nan}
