"""The training loop: one run spec in, ``backbone.pt`` + ``run.json`` + ``metrics.jsonl`` out.

Resumable: the full training state is checkpointed atomically to ``ckpt_dir`` every
``ckpt_every_steps`` steps; a restarted run continues from it. All randomness is derived from
(seed, epoch, index) or (seed, step), so a resumed run ends with exactly the weights of an
uninterrupted one. What the run trains, and on what data, comes from its variant
(``ssl_core.training.variants``); the step is ``ssl_core.training.step.TrainStep``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ssl_core import distributed as dist
from ssl_core.methods import StepInfo
from ssl_core.optim import Schedule
from ssl_core.preemption import Preemption, agreed
from ssl_core.seeding import model_init_seed
from ssl_core.training.checkpoint import METRICS, restore, resume_state, save_checkpoint, say, truncate_metrics
from ssl_core.training.data import PassBatches, image_fingerprint, recheck_images
from ssl_core.training.outputs import finish_run
from ssl_core.training.step import build_train_step, check_processes
from ssl_core.training.variants import variant


def pretrain(spec: dict[str, Any], out_dir: str | Path, ckpt_dir: str | Path, max_steps: int | None = None,
             preemption: Preemption | None = None) -> bool:
    """Train one run. Returns True when the run is complete and its outputs are written, False
    when it stopped early after ``max_steps`` steps of this call, or at the first step after
    ``preemption`` was requested on any process (SLURM's --signal; state saved, resumable).
    Under torchrun every process calls this; rank 0 writes the files."""
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    recipe, train_cfg = spec["recipe"], spec["train"]
    seed, batch_size = spec["seed"], recipe["batch_size"]
    device = dist.resolve_device(train_cfg["device"])
    device = dist.local_device(device)  # this process's GPU, made current before the process group starts
    dist.init_from_env(device)
    world, rank = dist.world_size(), dist.rank()
    check_processes(spec, world)

    torch.manual_seed(model_init_seed(seed))  # identical initial weights on every process
    train_step = build_train_step(spec, device, world)
    model, optimizer = train_step.model, train_step.optimizer
    data = variant(spec).data(spec, rank)
    dataset = data.dataset
    data_steps = len(dataset) // batch_size  # batches per pass over the data (drop_last, as the official loaders)
    if data_steps == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the dataset size {len(dataset)}")
    # A random_init run (the floor) is its baseline's initial weights: no step at all.
    schedule = Schedule.of(recipe, data_steps, train_step.peak_lr, trains=spec["variant"] != "random_init")
    steps_per_epoch, total_steps = schedule.steps_per_epoch, schedule.total_steps

    # emb_dim: the width of the embedding the collapse test reads, known once a step ran (kept in
    # the checkpoint, so a run resumed with nothing left to train keeps its verdict).
    # stops: where the scheduler stopped this run before its end (step, why), over every resumed attempt
    step, collapse, emb_dim, stops = 0, None, None, []
    metrics_path = ckpt_dir / METRICS
    main = dist.is_main()
    if main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    images = image_fingerprint(data) if total_steps else None  # what the run trains on
    state = resume_state(ckpt_dir, spec, device, main)
    if state is not None:
        step, collapse, emb_dim = restore(state, model, optimizer, spec, total_steps, main)
        stops = state.get("stops", [])
        if step < total_steps and state.get("images") not in (None, images):
            recheck_images(data, spec, say)  # the images changed since this run started
    if main:
        truncate_metrics(metrics_path, step)

    def checkpoint() -> None:
        if main:
            save_checkpoint({"spec": spec, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "step": step, "collapse": collapse, "emb_dim": emb_dim, "images": images, "stops": stops}, ckpt_dir)
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
            batches = PassBatches(data, data_epoch, data_steps, batch_size, rank, first, stop_at - step)
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
                if preemption is not None and step < stop_at and (not data.checkpoint_at_pass_ends or step % data_steps == 0) \
                        and agreed(preemption.requested, device):
                    stop_at = step  # the checkpoint below; the caller exits RESUME_EXIT_CODE
                    stops.append({"step": step, "why": preemption.reason or "another process's signal"})
                    break
    finally:
        if log:
            log.close()
        progress.close()
    checkpoint()
    if step < total_steps and collapse is None:
        return False
    if main:
        finish_run(spec, model, out_dir, metrics_path, step, total_steps, steps_per_epoch, collapse, world, emb_dim,
                   stops)
    dist.barrier()
    return True
