"""Pretraining loop: one run spec in, ``backbone.pt`` + ``run.json`` + ``metrics.jsonl`` out.

Resumable: the full training state is checkpointed atomically to ``ckpt_dir`` every
``ckpt_every_steps`` steps; a restarted run continues from it. All randomness is derived from
(seed, epoch, index) or (seed, step), so a resumed run ends with exactly the weights of an
uninterrupted one.
"""
from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import torch
from lightly.utils.debug import std_of_l2_normalized
from torch.utils.data import DataLoader
from tqdm import tqdm

from ssl_core.augment import original_transform
from ssl_core.backbones import build_backbone, count_parameters
from ssl_core.datasets import pretrain_samples
from ssl_core.datasets.pretrain import MultiViewDataset, item_seed
from ssl_core.io import atomic_path, load_torch, save_torch, write_json
from ssl_core.methods import METHODS, StepInfo
from ssl_core.optim import build_optimizer, cosine_schedule, lr_at, scaled_lr
from ssl_core.rescue import RescueRegularizer
from ssl_core.strong_augment import StrongAugment

CHECKPOINT = "last.pt"
METRICS = "metrics.jsonl"


def build_method(spec: dict[str, Any]) -> torch.nn.Module:
    recipe = spec["recipe"]
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    return METHODS.get(spec["method"]).from_recipe(backbone, recipe)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def pretrain(spec: dict[str, Any], out_dir: str | Path, ckpt_dir: str | Path, max_steps: int | None = None) -> bool:
    """Train one run. Returns True when the run is complete and its outputs are written, False
    when it stopped early after ``max_steps`` steps of this call (state saved, resumable)."""
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    recipe, train_cfg = spec["recipe"], spec["train"]
    seed, batch_size = spec["seed"], recipe["batch_size"]
    device = resolve_device(train_cfg["device"])

    torch.manual_seed(seed)
    model = build_method(spec).to(device)
    size = recipe["image_size"]
    views = METHODS.get(spec["method"]).view_transform(recipe)
    dataset = MultiViewDataset(pretrain_samples(spec["data"]), views, original_transform(size), seed)
    steps_per_epoch = len(dataset) // batch_size  # drop_last, as the official loaders
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the dataset size {len(dataset)}")
    total_steps = recipe["epochs"] * steps_per_epoch
    warmup_steps = recipe["warmup_epochs"] * steps_per_epoch
    peak_lr = scaled_lr(recipe["base_lr"], batch_size, recipe["lr_scaling"], recipe.get("lr_ref_batch", 256))
    optimizer = build_optimizer(model, recipe["optimizer"], peak_lr, recipe["weight_decay"])
    wd_end = recipe.get("weight_decay_end", recipe["weight_decay"])
    # bf16 autocast on GPU (the official recipes train in mixed precision); fp32 on CPU.
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" and train_cfg.get("amp", True))
    hooks = {name: getattr(model, name, None) for name in ("on_before_optimizer_step", "on_after_optimizer_step")}
    rescue = None
    if spec["variant"] == "rescued":
        rescue = RescueRegularizer(spec["k"], StrongAugment(size=size))

    step, collapse = 0, None
    ckpt_path = ckpt_dir / CHECKPOINT
    metrics_path = ckpt_dir / METRICS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if ckpt_path.exists():
        state = load_torch(ckpt_path)
        if state["spec"] != spec:
            raise RuntimeError(f"{ckpt_path} belongs to a different run spec; delete it to restart")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, collapse = state["step"], state["collapse"]
    _truncate_metrics(metrics_path, step)

    def checkpoint() -> None:
        save_torch(
            {"spec": spec, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "collapse": collapse},
            ckpt_path,
        )

    stop_at = total_steps if max_steps is None else min(total_steps, step + max_steps)
    model.train()
    progress = tqdm(total=total_steps, initial=step, desc=spec["run"], unit="step", mininterval=2.0)
    with open(metrics_path, "a") as log:
        while step < stop_at and collapse is None:
            epoch, first = divmod(step, steps_per_epoch)
            dataset.set_epoch(epoch)
            order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(item_seed(seed, epoch, -1)))
            batches = order[: steps_per_epoch * batch_size].view(steps_per_epoch, batch_size).tolist()
            loader = DataLoader(
                dataset, batch_sampler=batches[first : first + stop_at - step],
                num_workers=spec["data"]["num_workers"], pin_memory=device.type == "cuda",
            )
            tic = time.perf_counter()
            for views, originals in loader:
                info = StepInfo(step, total_steps, steps_per_epoch)
                lr = lr_at(step, total_steps, warmup_steps, peak_lr)
                wd = cosine_schedule(step, total_steps, recipe["weight_decay"], wd_end)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                    if group["weight_decay"] > 0:  # the 1-D parameters stay without decay
                        group["weight_decay"] = wd
                torch.manual_seed(item_seed(seed, step, -3))  # in-method randomness (e.g. iBOT masks)
                views = [v.to(device, non_blocking=True) for v in views]
                with autocast:
                    out = model(views, info)
                    loss = out.loss
                    record = {"step": step, "epoch": epoch, "lr": lr, "loss_ssl": out.loss.item(), **out.logs}
                    if rescue is not None:
                        strong_rng = torch.Generator().manual_seed(item_seed(seed, step, -2))
                        r = rescue(out.z_a, out.z_b, originals, model.embed, strong_rng)
                        loss = loss + spec["s"] * r.loss
                        record.update(loss_topk=r.loss.item(), topk_sim=r.topk_similarity,
                                      pair_sim=r.pair_similarity, strong_sim=r.strong_similarity)
                record["loss"] = loss.item()
                record["emb_std"] = std_of_l2_normalized(out.z_a.detach().float()).item()
                if not math.isfinite(record["loss"]):
                    collapse = "nan_loss"  # recorded, not crashed on: the sweeps shade such runs
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if recipe.get("clip_grad"):
                        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["clip_grad"])
                    if hooks["on_before_optimizer_step"]:
                        hooks["on_before_optimizer_step"](info)
                    optimizer.step()
                    if hooks["on_after_optimizer_step"]:
                        hooks["on_after_optimizer_step"](info)
                    step += 1
                toc = time.perf_counter()
                record["img_per_s"] = batch_size / (toc - tic)
                tic = toc
                log.write(json.dumps(record) + "\n")
                progress.update(1)
                progress.set_postfix(loss=f"{record['loss']:.3f}")
                if collapse is not None:
                    break
                if step % train_cfg["ckpt_every_steps"] == 0:
                    log.flush()
                    checkpoint()
    progress.close()
    checkpoint()
    if step < total_steps and collapse is None:
        return False
    _write_outputs(spec, model, out_dir, metrics_path, step, total_steps, steps_per_epoch, collapse)
    return True


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (they will be recomputed)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] < step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))


def _write_outputs(spec, model, out_dir: Path, metrics_path: Path, step: int, total_steps: int,
                   steps_per_epoch: int, collapse: str | None) -> None:
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    final_std = records[-1]["emb_std"] if records else float("nan")
    # Collapse by embedding: lightly's criterion; a healthy l2-normalised embedding has a per-dim
    # std near 1/sqrt(D), a collapsed one near 0.
    dim = spec["recipe"]["proj_out_dim"]
    if collapse is None and final_std < 0.1 / math.sqrt(dim):
        collapse = "embedding_std"
    save_torch({"arch": spec["arch"], "state_dict": model.eval_backbone.state_dict()}, out_dir / "backbone.pt")
    with atomic_path(out_dir / METRICS) as tmp:
        tmp.write_text(metrics_path.read_text())
    write_json(out_dir / "run.json", {
        "spec": spec,
        "params": count_parameters(model.eval_backbone),
        "steps": step,
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "final": records[-1] if records else {},
        "collapse": collapse,
        "torch": torch.__version__,
        "python": platform.python_version(),
    })


def load_backbone(path: str | Path) -> torch.nn.Module:
    """Rebuild a pretrained backbone from ``backbone.pt`` (safe deserialisation)."""
    state = load_torch(path)
    backbone = build_backbone(state["arch"])
    backbone.load_state_dict(state["state_dict"])
    return backbone
