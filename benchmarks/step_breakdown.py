"""A training step split into producing its views and the model step, per method and views path.

For every (method, arch) of the tiny and cifar profiles' experiments, at the recipe's batch size
(at most ``--max-batch``), this times in alternation (``benchmarks.common.paired_times``: process
CPU time, one torch thread, the fastest of ``--repeats``):

- ``views``: one batch as the trainer gets it, for each path of ``data.pretrain.augment_on``:
  ``MultiViewDataset`` items of in-memory PIL images at the crop side (the shapes' and CIFAR's
  32 px; the PNG decode of the shapes is left out, the same for both paths), collated, then
  ``ssl_core.augment.common.Views`` on the CPU device: ``loader`` makes the views per image with PIL,
  ``device`` draws them per image and makes them batched;
- ``model``: the trainer's ``TrainStep`` of a baseline run (forward, backward, update) on those
  views, on the same weights every time.

``view_share`` = views / (views + model) per path and ``steps_per_s`` = 1 / (views + model), a
step's rate with the loader in the training process (``num_workers: 0``, the tiny profile), and
``device_over_loader_steps_per_s`` their ratio, all from the one run.

    python -m benchmarks.step_breakdown                               # tiny + cifar, ~4 min
    python -m benchmarks.step_breakdown --profiles tiny --max-batch 8 --repeats 1   # smoke
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.data import default_collate

from benchmarks.common import (Snapshot, add_thread_option, bench_spec, emit, load_profile, paired_times, random_images,
                               set_threads)
from benchmarks.rescue_overhead import cases
from ssl_core.augment.common import Views
from ssl_core.augment.originals import original_transform
from ssl_core.datasets.pretrain import MultiViewDataset
from ssl_core.methods import METHODS, StepInfo
from ssl_core.training import build_train_step

PATHS = ("loader", "device")


def measure(profile: str, method: str, arch: str, max_batch: int, repeats: int, recipe: dict) -> dict:
    config = load_profile(profile)
    n = min(max_batch, config["methods"][method]["recipe"]["batch_size"])
    spec = bench_spec(config, method, arch, "baseline", n, recipe=recipe)
    size = spec["recipe"]["image_size"]
    images = [(img, 0) for img in random_images(n, size)]
    cpu = torch.device("cpu")

    def produce(path: str):
        views = Views(METHODS.get(method).view_specs(spec["recipe"]), path)
        dataset = MultiViewDataset(images, views.item, original_transform(size))
        return lambda: views(*default_collate([dataset[i] for i in range(n)]), cpu)

    torch.manual_seed(0)
    step = build_train_step(spec, cpu)
    views = produce("device")()
    originals = torch.zeros(n, 3, size, size, dtype=torch.uint8)  # unused by a baseline step
    info = StepInfo(0, 1000, 100)
    snapshot = Snapshot(step.model, step.optimizer)
    times = paired_times([produce(p) for p in PATHS] + [lambda: step(views, originals, info)], repeats,
                         setup=snapshot.restore)
    model = min(times[-1])
    out = {"profile": profile, "method": method, "arch": arch, "batch_size": n, "image_size": size,
           "views": [list(v.shape[1:]) for v in views], "model_step_s": model}
    for path, t in zip(PATHS, times):
        out[path] = {"views_s": min(t), "view_share": min(t) / (min(t) + model), "steps_per_s": 1 / (min(t) + model)}
    out["device_over_loader_steps_per_s"] = out["device"]["steps_per_s"] / out["loader"]["steps_per_s"]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_breakdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--profiles", nargs="+", default=["tiny", "cifar"], choices=["tiny", "cifar"])
    p.add_argument("--methods", nargs="+", default=None, help="only these methods (default: all registered)")
    p.add_argument("--max-batch", type=int, default=128, help="cap on the recipe's batch size")
    p.add_argument("--repeats", type=int, default=3)
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    results = [measure(profile, method, arch, args.max_batch, args.repeats, recipe)
               for profile in args.profiles for method, arch, recipe in cases(profile)
               if not args.methods or method in args.methods]
    emit("step_breakdown", repeats=args.repeats, cases=results,
         view_share={f"{r['profile']}/{r['method']}/{r['arch']}": {p: round(r[p]["view_share"], 3) for p in PATHS}
                     for r in results})


if __name__ == "__main__":
    main()
