"""Pretraining loop: one run spec in, ``backbone.pt`` + ``run.json`` + ``metrics.jsonl`` out.

Resumable: the full training state is checkpointed atomically to ``ckpt_dir`` every
``ckpt_every_steps`` steps; a restarted run continues from it. All randomness is derived from
(seed, epoch, index) or (seed, step), so a resumed run ends with exactly the weights of an
uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ssl_core import distributed as dist
from ssl_core.augment.common import Views
from ssl_core.augment.originals import original_size, original_transform
from ssl_core.augment.strong import StrongAugment
from ssl_core.backbones import build_backbone, count_parameters, is_vit
from ssl_core.batchnorm import DEFAULT_RULE, strong_embed
from ssl_core.datasets import pretrain_images
from ssl_core.datasets.check import CorruptImagesError, find_corrupt, fingerprint
from ssl_core.datasets.pretrain import MultiViewDataset
from ssl_core.distributed import resolve_device
from ssl_core.host import cpu_model, retain_freed_memory
from ssl_core.io import atomic_path, load_torch, save_torch, write_json
from ssl_core.methods import METHODS, Method, StepInfo
from ssl_core.optim import Schedule, build_optimizer, scaled_lr
from ssl_core.rescue import RescueRegularizer
from ssl_core.seeding import data_order_seed, model_init_seed, step_seed, strong_augment_seed

CHECKPOINT = "last.pt"
PREVIOUS = "previous.pt"  # the checkpoint before last.pt: the fallback when last.pt cannot be read
METRICS = "metrics.jsonl"


def std_of_l2_normalized(z: torch.Tensor) -> torch.Tensor:
    """Mean per-dimension std of the l2-normalised embeddings (lightly's collapse statistic, the
    SimSiam paper's): ~1/sqrt(D) when healthy, ~0 when every image maps to one point."""
    return torch.nn.functional.normalize(z, dim=1).std(dim=0).mean()


def build_method(spec: dict[str, Any]) -> Method:
    """The spec's method around its backbone; for the supervised ceiling, its cross-entropy objective
    (``ssl_core.supervised``, not a method of the registry)."""
    if spec.get("variant") == "supervised":
        from ssl_core.supervised import SupervisedObjective

        return SupervisedObjective.from_spec(spec)
    recipe = spec["recipe"]
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    return METHODS.get(spec["method"]).from_recipe(backbone, recipe)


@dataclass
class TrainStep:
    """One optimisation step: forward of the method, the rescue term on rescued runs, backward,
    gradient all-reduce, clipping, the method's optimizer hooks and the update. The trainer and
    ``benchmarks/`` run exactly this.

    Logged scalars stay on the device until one transfer at the end of the step (one
    device-to-host sync per step, after backward was queued), so the forward and the rescue term
    are queued without waiting for the device. A non-finite loss skips the update (the run is
    then recorded as collapsed)."""

    model: Method
    optimizer: torch.optim.Optimizer
    rescue: RescueRegularizer | None
    s: float | None
    device: torch.device
    peak_lr: float  # the recipe's scaled lr, the top of the trainer's schedule
    amp: bool = True
    clip_grad: float | None = None

    rescue_bn: str = DEFAULT_RULE

    def __post_init__(self) -> None:
        # Convolutional networks train in channels-last layout (NHWC): the faster convolution
        # kernels on CPU (oneDNN; 1.1-1.5x per step here, benchmarks/throughput.py) and on GPU
        # (cuDNN's tensor-core kernels under bf16); the weights keep their values and names.
        self.memory_format = training_layout(self.model.eval_backbone)
        self.model.to(memory_format=self.memory_format)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        # How BatchNorm treats the strong views (ssl_core.batchnorm): `new_step` before the forward.
        self.new_step, self.strong_embed = strong_embed(self.model, self.rescue_bn) if self.rescue is not None \
            else ((lambda: None), None)
        # bf16 autocast on GPU (the official recipes train in mixed precision); fp32 on CPU.
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                       enabled=self.device.type == "cuda" and self.amp)

    def __call__(self, views: list[torch.Tensor], originals: torch.Tensor, info: StepInfo,
                 strong_rng: torch.Generator | None = None) -> tuple[dict[str, float], int]:
        """Returns the step's logged scalars (averaged over processes) and the embedding width.
        The uint8 originals go to the device with the views (a quarter of a float view's bytes):
        selecting and augmenting the k easiest there needs no device-to-host sync, where taking
        only those k on the host would wait for the forward pass."""
        views = [v.to(self.device, non_blocking=True, memory_format=self.memory_format) for v in views]
        originals = originals.to(self.device, non_blocking=True)
        self.new_step()
        with self.autocast:
            out = self.model(views, info)
            loss = out.loss
            logs = {"loss_ssl": out.loss.detach(), **out.logs}
            if self.rescue is not None:
                r = self.rescue(out.z_a, out.z_b, originals, self.strong_embed, strong_rng)
                loss = loss + self.s * r.loss
                logs.update(loss_topk=r.loss.detach(), topk_sim=r.topk_similarity, pair_sim=r.pair_similarity,
                            strong_sim=r.strong_similarity)
        logs["loss"] = loss.detach()
        logs["emb_std"] = std_of_l2_normalized(out.z_a.detach().float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        record = dist.mean_over_processes(_to_floats(logs))  # the step's one device-to-host sync
        if math.isfinite(record["loss"]):
            dist.all_reduce_gradients(self.params)
            if self.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad)
            self.model.on_before_optimizer_step(info)
            self.optimizer.step()
            self.model.on_after_optimizer_step(info)
        return record, out.z_a.shape[1]


def training_layout(backbone: nn.Module) -> torch.memory_format:
    """channels-last for a convolutional backbone (ResNet), the default layout for a ViT, whose
    only convolution is the patch projection."""
    convolutional = not is_vit(backbone) and any(isinstance(m, nn.Conv2d) for m in backbone.modules())
    return torch.channels_last if convolutional else torch.contiguous_format


def _to_floats(logs: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """Python floats of a dict of scalars, with one device-to-host copy for all tensors."""
    keys = [k for k, v in logs.items() if isinstance(v, torch.Tensor)]
    values = torch.stack([logs[k].float().reshape(()) for k in keys]).tolist() if keys else []
    return {k: float(v) for k, v in logs.items() if k not in keys} | dict(zip(keys, values))


def build_train_step(spec: dict[str, Any], device: torch.device, world: int = 1) -> TrainStep:
    """The model, optimizer (at the recipe's peak lr) and rescue term of a run spec, on ``device``.
    Also keeps the process's freed host memory (``ssl_core.host``), as every training step wants."""
    retain_freed_memory()
    recipe = spec["recipe"]
    model = dist.convert_sync_batchnorm(build_method(spec), device).to(device)
    # (The supervised recipe states no lr_scaling: its base_lr is at batch 256, scaled linearly.)
    peak_lr = scaled_lr(recipe["base_lr"], recipe["batch_size"], recipe.get("lr_scaling", "linear"),
                        recipe.get("lr_ref_batch", 256))
    optimizer = build_optimizer(model.param_groups(recipe["weight_decay"]), recipe["optimizer"], peak_lr,
                                tuple(recipe.get("betas", (0.9, 0.999))))
    rescue, rule = None, rescue_rule(spec)
    if spec["variant"] == "rescued":
        rescue = RescueRegularizer(spec["k"], StrongAugment(size=recipe["image_size"], original_size=original_size(recipe)),
                                   rule["topk"])
    return TrainStep(model, optimizer, rescue, spec["s"], device, peak_lr, spec["train"].get("amp", True),
                     recipe.get("clip_grad"), rule["bn"])


def rescue_rule(spec: dict[str, Any]) -> dict[str, str]:
    """The rescue term's BatchNorm rule and top-k scope of a spec (its ``rescue: {bn, topk}``, which
    the config fills for rescued runs), with the defaults where a spec has none."""
    return {"bn": DEFAULT_RULE, "topk": "per_process", **(spec.get("rescue") or {})}


def check_processes(spec: dict[str, Any], world: int) -> None:
    """The batch and the rescue term's k split over ``world`` processes as the rescue rule needs."""
    rule, k, batch_size = rescue_rule(spec), spec["k"], spec["recipe"]["batch_size"]
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
    if k is not None and rule["topk"] == "per_process" and k % world:
        raise ValueError(f"k {k} must be divisible by the {world} processes (rescue.topk: per_process)")
    if k is not None and rule["bn"] == "own_batch" and k // world < 2:
        raise ValueError(f"k / processes = {k} / {world} < 2: with rescue.bn own_batch the strong views are "
                         "a train-mode BatchNorm batch of their own")
    if rule == {"bn": "own_batch", "topk": "global"}:
        raise ValueError("rescue.topk global gives each process any number of strong views, which rescue.bn own_batch "
                         "would normalise as a batch of their own: use rescue.bn common")


def pretrain(spec: dict[str, Any], out_dir: str | Path, ckpt_dir: str | Path, max_steps: int | None = None) -> bool:
    """Train one run. Returns True when the run is complete and its outputs are written, False
    when it stopped early after ``max_steps`` steps of this call (state saved, resumable).
    Under torchrun every process calls this; rank 0 writes the files."""
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    recipe, train_cfg = spec["recipe"], spec["train"]
    seed, batch_size = spec["seed"], recipe["batch_size"]
    device = resolve_device(train_cfg["device"])
    dist.init_from_env(device)
    device = dist.local_device(device)
    world, rank = dist.world_size(), dist.rank()
    check_processes(spec, world)

    torch.manual_seed(model_init_seed(seed))  # identical initial weights on every process
    train_step = build_train_step(spec, device, world)
    model, optimizer = train_step.model, train_step.optimizer
    if spec["variant"] == "supervised":  # the ceiling: labelled images (ssl_core.supervised)
        from ssl_core.supervised import LabelledData

        data = LabelledData(spec, rank)
    else:
        data = ViewData(spec, rank)
    dataset = data.dataset
    data_steps = len(dataset) // batch_size  # batches per pass over the data (drop_last, as the official loaders)
    if data_steps == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the dataset size {len(dataset)}")
    # A random_init run (the floor) is its baseline's initial weights: no step at all.
    schedule = Schedule.of(recipe, data_steps, train_step.peak_lr, trains=spec["variant"] != "random_init")
    steps_per_epoch, total_steps = schedule.steps_per_epoch, schedule.total_steps

    # emb_dim: the width of the embedding the collapse test reads, known once a step ran (kept in
    # the checkpoint, so a run resumed with nothing left to train keeps its verdict).
    step, collapse, emb_dim = 0, None, None
    metrics_path = ckpt_dir / METRICS
    main = dist.is_main()
    if main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    images = _image_fingerprint(data) if total_steps else None  # what the run trains on
    state = resume_state(ckpt_dir, spec, device, main)
    if state is not None:
        step, collapse, emb_dim = _restore(state, model, optimizer, spec, total_steps, main)
        if step < total_steps and state.get("images") not in (None, images):
            _recheck_images(data, spec)  # the images changed since this run started
    if main:
        _truncate_metrics(metrics_path, step)

    def checkpoint() -> None:
        if main:
            save_checkpoint({"spec": spec, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "step": step, "collapse": collapse, "emb_dim": emb_dim, "images": images}, ckpt_dir)
        dist.barrier()

    stop_at = total_steps if max_steps is None else min(total_steps, step + max_steps)
    ckpt_every = train_cfg["ckpt_every_steps"]
    if data.checkpoint_at_pass_ends:  # checkpoints (and stops) only where a pass over the data ends
        ckpt_every = data_steps
        stop_at = min(total_steps, -(-stop_at // data_steps) * data_steps)
    model.train()
    progress = tqdm(total=total_steps, initial=step, desc=spec["run"], unit="step", mininterval=2.0, disable=not main)
    log = open(metrics_path, "a") if main else None
    try:
        while step < stop_at and collapse is None:
            data_epoch, first = divmod(step, data_steps)
            data.start_pass(data_epoch)
            batches = _PassBatches(data, data_epoch, data_steps, batch_size, rank, first, stop_at - step)
            loader = DataLoader(
                dataset, batch_sampler=batches,
                num_workers=spec["data"]["num_workers"], pin_memory=spec["data"].get("pin_memory", device.type == "cuda"),
            )
            tic = time.perf_counter()
            for batch, originals in loader:
                lr = schedule.apply(optimizer, step)
                strong_rng = data.begin_step(step)
                step_views, originals, targets = data.inputs(batch, originals, device)
                info = StepInfo(step, total_steps, steps_per_epoch, targets)
                record, emb_dim = train_step(step_views, originals, info, strong_rng)
                if math.isfinite(record["loss"]):
                    step += 1
                else:
                    collapse = "nan_loss"  # recorded, not crashed on: the sweeps shade such runs
                toc = time.perf_counter()
                record = {"step": info.step, "epoch": info.step / steps_per_epoch, "lr": lr, **record,
                          "img_per_s": batch_size / (toc - tic)}
                tic = toc
                if log:
                    log.write(json.dumps(record) + "\n")
                progress.update(1)
                progress.set_postfix(loss=f"{record['loss']:.3f}", refresh=False)
                if collapse is not None:
                    break
                if step % ckpt_every == 0:
                    if log:
                        log.flush()
                    checkpoint()
    finally:
        if log:
            log.close()
        progress.close()
    checkpoint()
    if step < total_steps and collapse is None:
        return False
    if main:
        _write_outputs(spec, model, out_dir, metrics_path, step, total_steps, steps_per_epoch, collapse, world,
                       emb_dim)
    dist.barrier()
    return True


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


class _PassBatches:
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


def say(message: str) -> None:
    """One line to the job's log (stderr; the progress bar's stream)."""
    print(message, file=sys.stderr, flush=True)


def save_checkpoint(state: dict[str, Any], ckpt_dir: Path) -> None:
    """``last.pt``, atomically, after moving the one before it to ``previous.pt``: a ``last.pt``
    damaged later (a full disk, a copy cut short) still leaves a checkpoint to resume from."""
    last = ckpt_dir / CHECKPOINT
    if last.exists():
        os.replace(last, ckpt_dir / PREVIOUS)
    save_torch(state, last)


def _set_aside(path: Path, reason: str) -> Path:
    """Rename ``path`` to ``<name>.<reason>[-n]`` beside it (never overwriting) and return the new path."""
    n, aside = 0, path.with_name(f"{path.name}.{reason}")
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{reason}-{n}")
    os.replace(path, aside)
    return aside


def _spec_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two specs."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(old.keys() | new.keys(), key=str)
                for c in _spec_changes(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [prefix.rstrip(".")]


def resume_state(ckpt_dir: Path, spec: dict[str, Any], device: torch.device, main: bool) -> dict[str, Any] | None:
    """The training state to resume from: ``last.pt``, else ``previous.pt``, else none (a fresh
    start). A checkpoint that cannot be read, or that belongs to another spec (a recipe value was
    edited), is set aside with a log line naming it; the run then starts afresh from what is left."""
    found, moves = None, []
    for name in (CHECKPOINT, PREVIOUS):
        path = ckpt_dir / name
        if not path.exists():
            continue
        try:
            state = load_torch(path, map_location=device)
            if not isinstance(state, dict) or not {"spec", "model", "optimizer"} <= state.keys():
                raise ValueError("not a training checkpoint of ssl_core.trainer")
        except Exception as e:  # noqa: BLE001 - a checkpoint we cannot read is set aside, whatever the cause
            moves.append((path, "damaged", f"cannot be read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"))
            continue
        if state["spec"] != spec:
            changed = _spec_changes(state["spec"], spec)
            shown = ", ".join(changed[:6]) + (", ..." if len(changed) > 6 else "")
            moves.append((path, "other-spec", f"belongs to a different run spec (changed: {shown})"))
            continue
        found = state | {"path": path}
        break
    dist.barrier()  # every process has read the files before the main one moves any
    if main:
        for path, reason, why in moves:
            aside = _set_aside(path, reason)
            if reason == "other-spec" and (ckpt_dir / METRICS).exists() and found is None:
                _set_aside(ckpt_dir / METRICS, reason)  # its log, beside it
            then = f"resuming from {found['path'].name}" if found is not None else "starting the run afresh"
            say(f"WARNING: {path} {why}; set aside as {aside}; {then} (delete the set-aside file when not needed)")
    dist.barrier()
    return found


def _restore(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, spec: dict[str, Any],
             total_steps: int, main: bool) -> tuple[int, str | None, int | None]:
    """Load a checkpoint's weights and optimiser state; its (step, collapse, emb_dim)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    step, collapse, emb_dim = state["step"], state["collapse"], state.get("emb_dim")
    if main:
        say(f"{spec['run']}: resuming from step {step} of {total_steps} ({state['path']})")
    if main and emb_dim is None and step >= total_steps and collapse is None:
        say(f"WARNING: {spec['run']}: {state['path']} predates the recorded embedding width, so the embedding "
            "collapse test cannot be repeated and run.json's collapse stays null; delete the checkpoint and rerun "
            "to retrain the run and have the test")
    return step, collapse, emb_dim


def _image_fingerprint(data: "ViewData") -> str | None:
    """Fingerprint (paths, sizes, modification times) of the training images, for a file-backed set."""
    samples = getattr(data.source, "samples", None)
    return fingerprint([Path(p) for p, _ in samples]) if samples is not None else None


def _recheck_images(data: "ViewData", spec: dict[str, Any]) -> None:
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


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (they will be recomputed)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] < step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))


def _write_outputs(spec, model, out_dir: Path, metrics_path: Path, step: int, total_steps: int,
                   steps_per_epoch: int, collapse: str | None, world: int, emb_dim: int) -> None:
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    final_std = records[-1]["emb_std"] if records else float("nan")
    # Collapse by embedding: lightly's criterion; a healthy l2-normalised embedding has a per-dim
    # std near 1/sqrt(D), a collapsed one near 0.
    if collapse is None and emb_dim is not None and getattr(model, "embedding_collapse_test", True) \
            and final_std < 0.1 / math.sqrt(emb_dim):
        collapse = "embedding_std"
    final = model.final_record(records, steps_per_epoch, spec["recipe"]["batch_size"]) \
        if hasattr(model, "final_record") and records else None  # the ceiling's: its last epoch's means
    write_run(out_dir, spec, model.eval_backbone, metrics_path, records, step, total_steps, steps_per_epoch,
              collapse, world, final)


def write_run(out_dir: Path, spec: dict, backbone: nn.Module, metrics_path: Path, records: list[dict], step: int,
              total_steps: int, steps_per_epoch: int, collapse: str | None, world: int = 1,
              final: dict | None = None) -> None:
    """A finished run's outputs, each written atomically: ``backbone.pt`` (what every evaluation
    loads), the per-step log and ``run.json`` (spec, size, final record (``final``, else the last
    logged step), collapse, versions)."""
    save_torch({"arch": spec["arch"], "kwargs": spec["recipe"].get("backbone", {}),
                "state_dict": backbone.state_dict()}, out_dir / "backbone.pt")
    with atomic_path(out_dir / METRICS) as tmp:
        tmp.write_text(metrics_path.read_text())
    write_json(out_dir / "run.json", {
        "spec": spec,
        "params": count_parameters(backbone),
        "steps": step,
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "final": final if final is not None else records[-1] if records else {},
        "collapse": collapse,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "world_size": world,
        # The same seed is bit-identical only at the same thread count (float summation order).
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_model(),  # a pair is only a pair on one CPU type (evaluations.cpu)
    })
