"""Checkpoint and resume of a training run: ``last.pt`` written atomically (the one before it kept
as ``previous.pt``), the state to resume from (a damaged checkpoint, or one of another spec, set
aside with a log line), its restore, and the per-step log cut back to the resumed step."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssl_core import distributed as dist
from ssl_core.io import atomic_path, load_torch, save_torch

CHECKPOINT = "last.pt"
PREVIOUS = "previous.pt"  # the checkpoint before last.pt: the fallback when last.pt cannot be read
METRICS = "metrics.jsonl"


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
                raise ValueError("not a training checkpoint of ssl_core.training")
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


def restore(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, spec: dict[str, Any],
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


def truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (they will be recomputed)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] < step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))
