"""A finished run's outputs: the embedding-collapse verdict, then ``backbone.pt`` (what every
evaluation loads), ``metrics.jsonl`` and ``run.json``, each written atomically."""
from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import torch
from torch import nn

from ssl_core.backbones import count_parameters
from ssl_core.host import cpu_model
from ssl_core.io import atomic_path, save_torch, write_json
from ssl_core.training.checkpoint import METRICS


def finish_run(spec, model, out_dir: Path, metrics_path: Path, step: int, total_steps: int,
               steps_per_epoch: int, collapse: str | None, world: int, emb_dim: int, stops: list | None = None) -> None:
    """The collapse test on the last logged step, the objective's final record, the files."""
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    final_std = records[-1]["emb_std"] if records else float("nan")
    # Collapse by embedding: lightly's criterion; a healthy l2-normalised embedding has a per-dim
    # std near 1/sqrt(D), a collapsed one near 0.
    if collapse is None and emb_dim is not None and model.embedding_collapse_test \
            and final_std < 0.1 / math.sqrt(emb_dim):
        collapse = "embedding_std"
    final = model.final_record(records, steps_per_epoch, spec["recipe"]["batch_size"]) if records else None
    write_run(out_dir, spec, model.eval_backbone, metrics_path, records, step, total_steps, steps_per_epoch,
              collapse, world, final, stops)


def write_run(out_dir: Path, spec: dict, backbone: nn.Module, metrics_path: Path, records: list[dict], step: int,
              total_steps: int, steps_per_epoch: int, collapse: str | None, world: int = 1,
              final: dict | None = None, stops: list | None = None) -> None:
    """A finished run's outputs, each written atomically: ``backbone.pt`` (what every evaluation
    loads), the per-step log and ``run.json`` (spec, size, final record (``final``, else the last
    logged step), collapse, versions, and ``stops``: where a scheduler stopped it to be resumed)."""
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
        "stops": stops or [],  # [{"step", "why"}]: SIGUSR1, SIGTERM or "end near" (ssl_core.preemption)
        "torch": torch.__version__,
        "python": platform.python_version(),
        "world_size": world,
        # The same seed is bit-identical only at the same thread count (float summation order).
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_model(),  # a pair is only a pair on one CPU type (evaluations.cpu)
    })
