"""``rescue.topk: global`` against ``per_process``: what the global selection costs per step, and
how much the two selections differ at the paper's N, k and process counts.

Overlap (``--ckpt``). The positive-pair similarities cos(z_a, z_b) of ``--draws`` batches of real
views, embedded by a trained run (its training checkpoint: the full model and its spec; the
network in eval mode, i.e. normalised with its running statistics, in chunks of 512 images). For
each paper setting (SimCLR N = 4096, k = 128; MoCo v3 N = 4096, k = 64; DINOv2 N = 2048, k = 16)
and P = 8 and 32 processes, a batch of N of these pairs is split into P random slices of N / P (as
a shuffling sampler deals them), and the per-process selection (the k / P most similar pairs of
each slice) is compared with the global one (the k most similar of the batch): ``overlap`` = the
share of the global k that the per-process selection also picks (mean and minimum over
``--splits`` random splits per draw); ``worst_rank`` = the largest global rank (1 = easiest) a
per-process pick has; ``sim_per_process`` / ``sim_global`` = the mean similarity of the pairs each
selection rescues; ``max_on_one_process`` = the most of the global k that fall on one process (the
strong views the slowest process forwards under ``global``; ``per_process`` gives each k / P).
Settings with k not divisible by P have no per-process selection (``per_process`` requires it).
Under a random split the overlap depends on the ranks of the similarities alone, not their
values: ``rank_only_overlap`` repeats the computation on i.i.d. uniform similarities, the
feature-free expectation the measured one should match. Without ``--ckpt`` the model of
``--profile``'s SimCLR spec at initialisation embeds random images (``trained: false``; a smoke run).

Cost (``--cost-batch``). Two gloo processes on CPU run the trainer's own rescued step
(``ssl_core.training.TrainStep``, rule ``rescue.bn: common``, CPUSyncBatchNorm) of ``--profile``'s
SimCLR and MoCo v3 at a global batch N (k keeping the profile's N/k), alternating ``per_process``
and ``global`` on the same weights; a step's time is the slowest process's wall time (the step
ends when both have), the fastest of ``--repeats`` steps reported.

    python -m benchmarks.topk_scope --ckpt results/<p>/checkpoints/<run>/state.pt    # overlap + cost
    python -m benchmarks.topk_scope --max-n 64 --draws 1 --splits 2 --cost-batch 8 --repeats 1   # smoke
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.common import Snapshot, add_thread_option, bench_spec, emit, load_profile, set_threads, synthetic_batch
from ssl_core.methods import METHODS, StepInfo

#: (method, N, k) of the paper profile's rescued runs (config/paper.yaml).
PAPER = (("simclr", 4096, 128), ("mocov3", 4096, 64), ("dinov2", 2048, 16))
PROCESSES = (8, 32)


def per_process_selection(sim: torch.Tensor, k: int, processes: int) -> torch.Tensor:
    """Batch indices the per-process rule picks: the k / P largest of each of P equal slices."""
    slices = sim.view(processes, -1)
    top = slices.topk(k // processes, dim=1).indices
    return (top + torch.arange(processes).unsqueeze(1) * slices.shape[1]).flatten()


def compare(sim: torch.Tensor, k: int, processes: int, splits: int, generator: torch.Generator) -> dict:
    """Per-process against global selection over ``splits`` random splits of the batch ``sim``."""
    n = sim.shape[0]
    overlaps, worst, on_one, sim_pp, sim_gl = [], [], [], [], []
    for _ in range(splits):
        batch = sim[torch.randperm(n, generator=generator)]  # the sampler's deal: slice p = rows p*N/P ...
        glob = batch.topk(k).indices
        on_one.append(int(torch.bincount(glob // (n // processes), minlength=processes).max()))
        sim_gl.append(float(batch[glob].mean()))
        if k % processes:
            continue
        mine = per_process_selection(batch, k, processes)
        overlaps.append(len(set(mine.tolist()) & set(glob.tolist())) / k)
        rank = torch.empty(n, dtype=torch.long)
        rank[batch.argsort(descending=True)] = torch.arange(1, n + 1)
        worst.append(int(rank[mine].max()))
        sim_pp.append(float(batch[mine].mean()))
    out = {"max_on_one_process": max(on_one), "mean_max_on_one_process": sum(on_one) / splits,
           "sim_global": sum(sim_gl) / splits}
    if overlaps:
        out.update(overlap=sum(overlaps) / len(overlaps), min_overlap=min(overlaps), worst_rank=max(worst),
                   sim_per_process=sum(sim_pp) / len(sim_pp))
    return out


def load_model(ckpt: str | None, profile: str) -> tuple[torch.nn.Module, dict, bool]:
    """The trained model of a training checkpoint (with its spec), or the profile's SimCLR at init."""
    from ssl_core.io import load_torch
    from ssl_core.training import build_method

    if ckpt:
        state = load_torch(ckpt)
        model = build_method(state["spec"])
        model.load_state_dict(state["model"])
        return model.eval(), state["spec"], True
    torch.manual_seed(0)
    spec = bench_spec(load_profile(profile), "simclr", "resnet_tiny", "rescued", 64)
    return build_method(spec).eval(), spec, False


@torch.no_grad()
def similarities(model: torch.nn.Module, spec: dict, n: int, draw: int, real: bool) -> torch.Tensor:
    """cos(z_a, z_b) of n images' two views (draw ``draw`` of the run's view augmentation); of the
    run's training images if ``real``, else of random images."""
    from ssl_core.datasets import pretrain_images
    from ssl_core.augment.common import loader_views

    views_of = loader_views(METHODS.get(spec["method"]).view_specs(spec["recipe"]))
    if not real:
        views, _ = synthetic_batch({**spec, "recipe": {**spec["recipe"], "batch_size": n}}, seed=draw)
        a, b = views[0], views[1]
    else:
        source = pretrain_images(spec["data"])
        if len(source) < n:
            raise SystemExit(f"--max-n {n} exceeds the {len(source)} images of {spec['data']['root']}")
        torch.manual_seed(draw)
        pairs = [views_of(source[i][0])[:2] for i in torch.randperm(len(source))[:n].tolist()]
        a, b = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    sims = [F.cosine_similarity(model.embed(x), model.embed(y), dim=1) for x, y in zip(a.split(512), b.split(512))]
    return torch.cat(sims).float()


def overlap_table(args) -> tuple[list[dict], dict]:
    model, spec, trained = load_model(args.ckpt, args.profile)
    sims = [similarities(model, spec, args.max_n, d, trained) for d in range(args.draws)]
    rows = []
    g = torch.Generator().manual_seed(0)
    for method, n_paper, k_paper in PAPER:
        n = min(n_paper, args.max_n)
        k = max(1, round(k_paper * n / n_paper))
        for processes in PROCESSES:
            if n % processes:
                continue
            measured = [compare(s[torch.randperm(s.shape[0], generator=g)[:n]], k, processes, args.splits, g)
                        for s in sims]
            rank_only = compare(torch.rand(n, generator=g), k, processes, args.splits * args.draws, g)
            row = {"method": method, "N": n, "k": k, "processes": processes}
            for key in measured[0]:
                pick = max if key.startswith("max") or key == "worst_rank" else min if key.startswith("min") else None
                row[key] = pick(m[key] for m in measured) if pick else sum(m[key] for m in measured) / len(measured)
            row["rank_only_overlap"] = rank_only.get("overlap")
            rows.append(row)
    source = {"ckpt": args.ckpt, "trained": trained, "run": spec["run"], "method": spec["method"],
              "arch": spec["arch"], "data": spec["data"]["name"] if trained else "random images", "images": args.max_n, "draws": args.draws,
              "splits": args.splits, "mean_pair_similarity": float(torch.cat(sims).mean())}
    return rows, source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cost_worker(rank: int, port: int, profile: str, method: str, batch: int, repeats: int, out: str) -> None:
    """One of the two gloo processes: times the per-process and the global rescued step in turn."""
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from ssl_core import distributed as dist
    from ssl_core.training import build_train_step

    dist.init_from_env(torch.device("cpu"))
    steps = {}
    for topk in ("per_process", "global"):
        spec = bench_spec(load_profile(profile), method, "resnet_tiny", "rescued", batch)
        spec["rescue"] = {"bn": "common", "topk": topk}
        torch.manual_seed(0)  # the same initial weights on both processes and for both rules
        steps[topk] = build_train_step(spec, torch.device("cpu"), world=2)
    local = {**spec, "recipe": {**spec["recipe"], "batch_size": batch // 2}}
    views, originals = synthetic_batch(local, seed=rank)
    info = StepInfo(0, 1000, 100)
    snapshot = Snapshot(*(o for s in steps.values() for o in (s.model, s.optimizer)))
    times = {topk: [] for topk in steps}
    for r in range(repeats + 1):  # the first round warms up
        for topk in (("per_process", "global") if r % 2 else ("global", "per_process")):
            snapshot.restore()
            torch.distributed.barrier()
            tic = time.perf_counter()
            steps[topk](views, originals, info, torch.Generator().manual_seed(r))  # rank 0's draw on both
            wall = torch.tensor([time.perf_counter() - tic])
            torch.distributed.all_reduce(wall, op=torch.distributed.ReduceOp.MAX)  # the slowest process
            if r:
                times[topk].append(float(wall))
    if rank == 0:
        Path(out).write_text(json.dumps({"k": spec["k"], **times}))
    torch.distributed.destroy_process_group()


def cost(args) -> list[dict]:
    import torch.multiprocessing as mp

    rows = []
    for method in args.cost_methods:
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "times.json")
            mp.spawn(_cost_worker, args=(_free_port(), args.profile, method, args.cost_batch, args.repeats, out),
                     nprocs=2)
            t = json.loads(Path(out).read_text())
        pp, gl = min(t["per_process"]), min(t["global"])
        rows.append({"method": method, "arch": "resnet_tiny", "processes": 2, "batch_size": args.cost_batch,
                     "k": t["k"], "per_process_step_s": pp, "global_step_s": gl, "global_over_per_process": gl / pp})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.topk_scope", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", help="training checkpoint of a trained run (results/<p>/checkpoints/<run>/...)")
    p.add_argument("--profile", default="tiny", choices=["tiny", "cifar"], help="specs without --ckpt and for the cost")
    p.add_argument("--max-n", type=int, default=4096, help="images per draw (the paper's N, capped by the data)")
    p.add_argument("--draws", type=int, default=3, help="augmentation draws of the N images (0: no overlap)")
    p.add_argument("--splits", type=int, default=50, help="random splits over processes per draw")
    p.add_argument("--cost-batch", type=int, default=256, help="global batch of the 2-process cost (0: skip)")
    p.add_argument("--repeats", type=int, default=5, help="timed step pairs of the cost")
    p.add_argument("--cost-methods", nargs="+", default=["simclr", "mocov3"], choices=["simclr", "mocov3"],
                   help="methods whose 2-process cost is timed")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    rows, source = overlap_table(args) if args.draws else ([], None)
    costs = cost(args) if args.cost_batch else []
    emit("topk_scope", features=source, overlap=rows, cost=costs, cost_clock="wall, slowest of 2 processes",
         repeats=args.repeats)


if __name__ == "__main__":
    main()
