"""The settings of a transfer job from the config's ``eval.transfer`` block: what
:func:`evaluations.transfer.evaluate.evaluate_transfer` takes for each of the job's cells (the data
root, the preprocessing, the regulariser grid read as the config's ``grid.meaning``, the
standardisation, the split seed, the loader and the solver's iterations)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.transfer.registry import DEFAULT_SEED
from evaluations.transfer.feature_cache import Preprocessing
from evaluations.transfer.logistic import DEFAULT_MAX_ITER, c_values, log_grid
from ssl_core.distributed import resolve_device


def grid_meaning(cfg: dict[str, Any]) -> str:
    """How the grid's values read: l2_strength (the paper's) or scikit-learn's C."""
    return cfg["grid"].get("meaning", "l2_strength")


def transfer_settings(cfg: dict[str, Any], cache_dir: str | Path, device: str) -> dict[str, Any]:
    """``evaluate_transfer``'s keyword arguments for ``cfg`` (eval.transfer), its features cached
    under ``cache_dir``, on ``device`` (auto, cpu or cuda[:N])."""
    grid = cfg["grid"]
    return dict(data_root=cfg["data_root"], cache_dir=cache_dir,
                preprocessing=Preprocessing(size=cfg["image_size"], resize=cfg.get("resize")),
                c_grid=c_values(log_grid(grid["min"], grid["max"], grid["num"]), grid_meaning(cfg)),
                standardize=cfg.get("standardize", False), seed=cfg.get("seed", DEFAULT_SEED),
                batch_size=cfg["batch_size"], num_workers=cfg["num_workers"], device=resolve_device(device),
                max_iter=cfg.get("max_iter", DEFAULT_MAX_ITER))
