"""Training curves: what each run logged per step (its ``metrics.jsonl``), one figure per method
of a profile, baseline and rescued overlaid.

Each panel is one logged quantity against the step; each seed is a thin line and the mean over
the seeds of a (arch, variant) a bold one. The rescue term's mechanism reads from the similarity
panel: the cosine of the k easiest pairs (top-k, solid) against the mean of all pairs (dashed)
and the cosine of a common view with its strong view (dotted), which the rescue term pulls up.
Lines are a moving average over ``window`` steps (1: the raw log), said in the title; the CSV
beside the figure holds the unsmoothed means."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations.formatting import save_figure  # noqa: E402
from evaluations.results import write_csv  # noqa: E402

# (panel title, [(logged key, line style, legend label)]): the quantities of metrics.jsonl.
PANELS = [
    ("SSL loss $L_{SSL}$", [("loss_ssl", "-", None)]),
    ("total loss $L_{SSL} + s\\,L_{topk}$", [("loss", "-", None)]),
    ("rescue term $L_{topk}$", [("loss_topk", "-", None)]),
    ("cosine similarity", [("topk_sim", "-", "top-k pairs"), ("pair_sim", "--", "all pairs"),
                           ("strong_sim", ":", "common vs strong view")]),
    ("embedding std (collapse: ~0)", [("emb_std", "-", None)]),
    ("learning rate", [("lr", "-", None)]),
]
COLORS = {"baseline": "tab:blue", "rescued": "tab:orange"}
VARIANTS = ("baseline", "rescued")


def read_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One long table of every logged value: run, arch, variant, seed, step, key, value."""
    rows = []
    for run_dir in map(Path, run_dirs):
        spec = json.loads((run_dir / "run.json").read_text())["spec"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            if not line:
                continue
            record = json.loads(line)
            rows += [{"run": spec["run"], "arch": spec["arch"], "variant": spec["variant"], "seed": spec["seed"],
                      "step": record["step"], "key": key, "value": value}
                     for key, value in record.items() if key not in ("step", "epoch") and isinstance(value, (int, float))]
    return pd.DataFrame(rows, columns=["run", "arch", "variant", "seed", "step", "key", "value"])


def mean_curves(log: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, variant, key, step): the mean over seeds and how many seeds logged the step."""
    grouped = log.groupby(["arch", "variant", "key", "step"]).value
    return grouped.agg(mean="mean", n="count").reset_index()


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    return pd.Series(values).rolling(window, min_periods=1, center=True).mean().to_numpy()


def default_window(log: pd.DataFrame) -> int:
    """About 1/50 of the longest run (at least 1): enough to see trends through the batch noise."""
    return max(1, int(log.step.max() + 1) // 50) if len(log) else 1


def curves_figure(log: pd.DataFrame, method: str, profile: str, out_stem: str | Path, window: int | None = None) -> None:
    """The figure (STEM.pdf, STEM.png) and the unsmoothed means over seeds (STEM.csv)."""
    if log.empty:
        raise ValueError(f"no logged steps for {method} in profile {profile}: every run of it is untrained")
    window = default_window(log) if window is None else window
    means = mean_curves(log)
    write_csv(means.assign(method=method)[["method", "arch", "variant", "key", "step", "mean", "n"]], f"{out_stem}.csv")
    archs = sorted(log.arch.unique())
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (title, lines) in zip(axes.flat, PANELS):
        for arch_i, arch in enumerate(archs):
            for variant in VARIANTS:
                color = COLORS[variant]
                for key, style, label in lines:
                    part = log[(log.arch == arch) & (log.variant == variant) & (log.key == key)]
                    if part.empty:
                        continue
                    for _, seed in part.groupby("seed"):
                        seed = seed.sort_values("step")
                        ax.plot(seed.step, _smooth(seed.value.to_numpy(), window), style, color=color, lw=0.6,
                                alpha=0.35)
                    mean = means[(means.arch == arch) & (means.variant == variant) & (means.key == key)]
                    name = variant + (f" {arch}" if len(archs) > 1 else "") + (f": {label}" if label else "")
                    ax.plot(mean.step, _smooth(mean["mean"].to_numpy(), window), style, color=color,
                            lw=2.0 if arch_i == 0 else 1.4, label=name)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.has_data():
            ax.legend(fontsize=6, loc="best")
        else:
            ax.text(0.5, 0.5, "not logged (no rescued run)", ha="center", va="center", transform=ax.transAxes,
                    fontsize=8, color="0.5")
    seeds = log.groupby("variant").seed.nunique().to_dict()
    fig.suptitle(f"{method}, profile {profile}: training curves ("
                 + ", ".join(f"{v}: {seeds[v]} seed(s)" for v in VARIANTS if v in seeds)
                 + f"; thin: seeds, bold: mean; moving average over {window} step(s))", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_stem)
