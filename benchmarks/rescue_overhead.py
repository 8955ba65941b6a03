"""Step time of a rescued run over its baseline, next to the ideal (2N + k) / 2N.

The rescue term adds k strong views to the 2N common ones of a step (DINOv2: to its multi-crop
views, counted by area), so a rescued step should cost that much more and no more. For every
(method, arch) of the tiny profile and of the paper profile (paper archs at most ViT-S, the larger
ViTs timed as ViT-S; crops of ``--paper-size`` px on CPU), at several batch sizes N (k keeps the
profile's N/k), this times baseline and rescued training steps (``ssl_core.training.TrainStep``,
the trainer's own step, on the same weights) in alternation and reports the ratio of the
fastest step of each (``benchmarks.common``: process CPU time, one torch thread). Beside the ideal
it times the k strong views' forward + backward through f, g alone: ``extra_forwards`` =
(baseline + that) / baseline is what the extra forwards cost at batch k (a batch of k images
runs at a lower per-image efficiency than one of 2N, on CPU and on GPU), and
``measured_over_extra_forwards`` what the rescue term costs beyond them (selection, strong
augmentation, the loss).

    python -m benchmarks.rescue_overhead                      # ~9 min on one core
    python -m benchmarks.rescue_overhead --profiles tiny --tiny-batches 8 --repeats 1   # smoke
    python -m benchmarks.rescue_overhead --profiles paper --methods simclr mocov3 --paper-batches 64 128 --repeats 3

The paper profile crops the strong views from 256 px originals (recipe ``original_size``, scaled
with ``--paper-size``); ``--originals-at-crop-side`` times them from crop-side originals instead,
to measure what the larger originals cost.
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import (add_thread_option, bench_spec, set_threads, emit, ideal_factor, load_profile, ratio_of_minima, paired_times, Snapshot,
                               synthetic_batch)
from ssl_core.methods import METHODS, StepInfo
from ssl_core.training import build_train_step

PAPER_ARCH = {"vit_base": "vit_small", "vit_large": "vit_small", "vit_huge": "vit_small"}


def cases(profile: str) -> list[tuple[str, str, dict]]:
    """(method, arch, recipe overrides) of the profile's experiments, for every registered method."""
    config = load_profile(profile)
    out: dict[tuple[str, str], dict] = {}
    for exp in config["experiments"]:
        arch = PAPER_ARCH.get(exp["arch"], exp["arch"]) if profile == "paper" else exp["arch"]
        if exp["method"] in METHODS:
            out.setdefault((exp["method"], arch), exp.get("recipe", {}))
    return [(method, arch, recipe) for (method, arch), recipe in out.items()]


def measure(profile: str, method: str, arch: str, batch_size: int, image_size: int | None,
            repeats: int, recipe: dict | None = None) -> dict:
    config = load_profile(profile)
    steps = {}
    for variant in ("baseline", "rescued"):
        spec = bench_spec(config, method, arch, variant, batch_size, image_size, recipe)
        torch.manual_seed(0)
        steps[variant] = (spec, build_train_step(spec, torch.device("cpu")))
    spec = steps["rescued"][0]
    views, originals = synthetic_batch(spec)
    info = StepInfo(0, 1000, 100)

    def run(variant: str):
        return lambda: steps[variant][1](views, originals, info, torch.Generator().manual_seed(0))

    model = steps["rescued"][1].model
    strong = steps["rescued"][1].rescue.strong_augment(originals[:spec["k"]], torch.Generator().manual_seed(0))

    def extra_forwards():  # what the k strong views cost by themselves: forward + backward of f, g
        model.embed(strong).sum().backward()

    snapshot = Snapshot(*(obj for _, step in steps.values() for obj in (step.model, step.optimizer)))
    base, rescued, extra = paired_times([run("baseline"), run("rescued"), extra_forwards], repeats,
                                        setup=snapshot.restore)
    measured = ratio_of_minima(rescued, base)
    ideal = ideal_factor(views, spec["k"], spec["recipe"]["image_size"])
    forwards = (min(base) + min(extra)) / min(base)
    return {"profile": profile, "method": method, "arch": arch, "batch_size": batch_size, "k": spec["k"],
            "image_size": spec["recipe"]["image_size"], "original_size": originals.shape[-1], "views": [list(v.shape[1:]) for v in views],
            "baseline_step_s": min(base), "rescued_step_s": min(rescued), "strong_forward_backward_s": min(extra),
            "measured": measured, "ideal": ideal, "measured_over_ideal": measured / ideal,
            "extra_forwards": forwards, "measured_over_extra_forwards": measured / forwards}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rescue_overhead", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny-batches", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--paper-batches", type=int, nargs="+", default=[16, 32])
    p.add_argument("--profiles", nargs="+", default=["tiny", "paper"], choices=["tiny", "paper"])
    p.add_argument("--methods", nargs="+", default=None, help="only these methods (default: all registered)")
    p.add_argument("--paper-size", type=int, default=64, help="crop side of the paper archs on CPU (224 on GPU)")
    p.add_argument("--repeats", type=int, default=5, help="timed (baseline, rescued) step pairs per case")
    p.add_argument("--originals-at-crop-side", action="store_true",
                   help="originals at the crop side, not at the recipe's original_size")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    results = []
    for profile, batches, size in (("tiny", args.tiny_batches, None), ("paper", args.paper_batches, args.paper_size)):
        if profile not in args.profiles:
            continue
        for method, arch, recipe in cases(profile):
            if args.methods and method not in args.methods:
                continue
            if args.originals_at_crop_side:
                # the recipe's crop side; bench_spec scales it with --paper-size like the crops
                crop = {**load_profile(profile)["methods"][method]["recipe"], **recipe}["image_size"]
                recipe = {**recipe, "original_size": crop}
            for n in batches:
                results.append(measure(profile, method, arch, n, size, args.repeats, recipe))
    emit("rescue_overhead", repeats=args.repeats, paper_image_size=args.paper_size,
         methods=sorted({r["method"] for r in results}), cases=results,
         max_measured_over_ideal=max((r["measured_over_ideal"] for r in results), default=None),
         max_measured_over_extra_forwards=max((r["measured_over_extra_forwards"] for r in results), default=None))


if __name__ == "__main__":
    main()
