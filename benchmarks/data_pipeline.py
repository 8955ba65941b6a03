"""Images/s of one loader worker: the common views of each method (with the uint8 original the
rescue term keeps) and the strong views of the rescue term.

Common: ``MultiViewDataset.__getitem__`` over a synthetic ImageFolder tree of JPEGs on disk (decode,
the method's views from the paper profile's recipe at ``--image-size``, the original), in this
process, as one DataLoader worker runs it. Strong: ``StrongAugment`` on a batch of originals
(crop + flip, 2 RandAugment ops, Cutout, batched: one kernel per op for the whole batch), as the
training process runs it on the k selected images of a step, on the device. A worker's rate
times the number of workers bounds the loader. ``strong_tensor_ops_per_call``: the tensor
operations of one strong-view call on k images (32 px), a device-independent count of the
kernels a GPU would launch per step for them.

    python -m benchmarks.data_pipeline                               # 224 px, ~30 s
    python -m benchmarks.data_pipeline --n-images 4 --image-size 32 --source-size 40   # smoke
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.common import add_thread_option, bench_spec, emit, load_profile, random_images, set_threads
from ssl_core.augment.common import loader_views
from ssl_core.augment.originals import original_transform
from ssl_core.augment.strong import StrongAugment
from ssl_core.datasets import pretrain_split
from ssl_core.datasets.pretrain import MultiViewDataset
from ssl_core.methods import METHODS


def write_jpegs(root: Path, n: int, size: int) -> None:
    (root / "train" / "c0").mkdir(parents=True)
    for i, img in enumerate(random_images(n, size)):
        img.save(root / "train" / "c0" / f"{i}.jpg", quality=90)


def rate(fn, n: int, rounds: int) -> float:
    """Best of ``rounds`` of n items/s (process CPU time)."""
    best = float("inf")
    for _ in range(rounds):
        tic = time.process_time()
        fn()
        best = min(best, time.process_time() - tic)
    return n / best


class OpCounter(TorchDispatchMode):
    """Counts the tensor operations (ATen calls, each at least one kernel launch on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def strong_ops(strong: StrongAugment, k: int) -> int:
    """Tensor operations of one call on k originals: what a GPU launches per step for the strong
    views (a per-image loop grows with k; the batched ops do not)."""
    originals = torch.randint(0, 256, (k, 3, strong.size, strong.size), dtype=torch.uint8)
    with OpCounter() as counter:
        strong(originals, torch.Generator().manual_seed(0))
    return counter.calls


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.data_pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--n-images", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224, help="crop side")
    p.add_argument("--source-size", type=int, default=320, help="side of the JPEGs on disk")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--strong-k", type=int, nargs="+", default=[2, 16, 128],
                   help="batch sizes k at which to count the strong views' tensor operations")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    config = load_profile("paper")
    common = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_jpegs(Path(tmp), args.n_images, args.source_size)
        data = {"name": "imagenet", "root": tmp}
        for method in config["methods"]:
            if method not in METHODS:
                continue
            spec = bench_spec(config, method, "resnet50", "baseline", 1, args.image_size)
            views = loader_views(METHODS.get(method).view_specs(spec["recipe"]))
            dataset = MultiViewDataset(pretrain_split(data, "train"), views, original_transform(args.image_size))
            n_views = len(dataset[0][0])
            common[method] = {"views_per_image": n_views,
                              "images_per_s": rate(lambda: [dataset[i] for i in range(len(dataset))],
                                                   len(dataset), args.rounds)}
        originals = torch.stack([original_transform(args.image_size)(img)
                                 for img in random_images(args.n_images, args.source_size)])
    strong = StrongAugment(size=args.image_size)
    strong_rate = rate(lambda: strong(originals, torch.Generator().manual_seed(0)), args.n_images, args.rounds)
    ops = {k: strong_ops(StrongAugment(size=32), k) for k in args.strong_k}
    emit("data_pipeline", image_size=args.image_size, source_size=args.source_size, n_images=args.n_images,
         common_images_per_s_per_worker=common, strong_images_per_s_per_worker=strong_rate,
         strong_tensor_ops_per_call=ops)


if __name__ == "__main__":
    main()
