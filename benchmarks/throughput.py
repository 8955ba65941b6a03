"""Images/s of our training step against the same model and loss assembled from lightly's modules.

Ours: ``ssl_core.training.TrainStep`` of a baseline run (the trainer's own step). Reference: the
same torchvision backbone (same weights) with lightly's pieces, trained by a plain loop
(zero_grad, forward, loss, backward, step), as lightly's examples do (lightly
``examples/pytorch/simclr.py``):
- SimCLR: ``SimCLRProjectionHead`` + ``NTXentLoss`` + lightly's ``LARS``;
- MoCo v3 (lightly ships no MoCo v3 model; assembled from its parts): ``MoCoProjectionHead`` with
  BN as projector and predictor, a momentum copy updated by ``update_momentum``, ``NTXentLoss``
  on (q1, k2) and (q2, k1), lightly's ``LARS`` (ResNet) or AdamW (ViT).
Both sides see the same batch; times are paired and interleaved (``benchmarks.common``). The
reference runs twice: in the default memory layout, as lightly's examples (``ours_over_reference``),
and in our layout (channels-last for ResNets, ``ours_over_reference_same_layout``), which leaves
only the rest of the step (heads, loss, optimizer, logging) to compare.

    python -m benchmarks.throughput                              # resnet18 at 64 px, N = 64
    python -m benchmarks.throughput --batch 8 --image-size 32 --repeats 1 --arch resnet_tiny   # smoke
"""
from __future__ import annotations

import argparse
import copy
from typing import Any, Callable

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules.heads import MoCoProjectionHead, SimCLRProjectionHead
from lightly.models.utils import update_momentum
from lightly.utils.lars import LARS
from torch import nn

from benchmarks.common import (Snapshot, add_thread_option, bench_spec, emit, load_profile, paired_times,
                               ratio_of_minima, set_threads, synthetic_batch)
from ssl_core.methods import StepInfo
from ssl_core.training import build_train_step


def lightly_step(method: str, backbone: nn.Module, recipe: dict[str, Any],
                 layout: torch.memory_format = torch.contiguous_format) -> tuple[Callable, list[nn.Module]]:
    """A training step assembled from lightly's modules, fed images in ``layout``; returns it and
    what it trains."""
    dim = backbone.feature_dim
    if method == "simclr":
        head = SimCLRProjectionHead(dim, recipe["proj_hidden_dim"], recipe["proj_out_dim"])
        criterion = NTXentLoss(temperature=recipe["temperature"])
        modules = [backbone, head]

        def loss_fn(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
            z1, z2 = head(backbone(torch.cat([x1, x2]))).chunk(2)
            return criterion(z1, z2)
    elif method == "mocov3":
        hidden, out = recipe["proj_hidden_dim"], recipe["proj_out_dim"]
        projector = MoCoProjectionHead(dim, hidden, out, num_layers=recipe.get("proj_layers", 2), batch_norm=True)
        predictor = MoCoProjectionHead(out, recipe["pred_hidden_dim"], out, num_layers=2, batch_norm=True)
        m_backbone, m_projector = copy.deepcopy(backbone), copy.deepcopy(projector)
        for p in list(m_backbone.parameters()) + list(m_projector.parameters()):
            p.requires_grad = False
        criterion = NTXentLoss(temperature=recipe["temperature"])
        modules = [backbone, projector, predictor, m_backbone, m_projector]

        def loss_fn(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
            q1, q2 = predictor(projector(backbone(x1))), predictor(projector(backbone(x2)))
            with torch.no_grad():
                update_momentum(backbone, m_backbone, recipe["momentum_base"])
                update_momentum(projector, m_projector, recipe["momentum_base"])
                k1, k2 = m_projector(m_backbone(x1)), m_projector(m_backbone(x2))
            return criterion(q1, k2) + criterion(q2, k1)
    else:
        raise KeyError(f"no lightly reference assembled for {method!r}")
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    if recipe["optimizer"] == "lars":
        optimizer = LARS(params, lr=0.1, momentum=0.9, weight_decay=recipe["weight_decay"])
    else:
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=recipe["weight_decay"])

    def step(views: list[torch.Tensor]) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*(v.contiguous(memory_format=layout) for v in views[:2]))
        loss.backward()
        optimizer.step()

    return step, modules + [optimizer]


def measure(method: str, arch: str, batch: int, image_size: int, repeats: int) -> dict[str, Any]:
    spec = bench_spec(load_profile("tiny"), method, arch, "baseline", batch, image_size)
    torch.manual_seed(0)
    ours = build_train_step(spec, torch.device("cpu"))
    # The reference as lightly's examples write it: the default (contiguous) memory layout; and the
    # same loop on our layout (channels-last for convnets), which isolates everything else.
    layouts = {"reference": torch.contiguous_format, "reference_same_layout": ours.memory_format}
    refs, states = {}, [ours.model, ours.optimizer]
    for name, layout in layouts.items():
        backbone = copy.deepcopy(ours.model.backbone).to(memory_format=layout)
        refs[name], state = lightly_step(method, backbone, spec["recipe"], layout)
        states += state
    views, originals = synthetic_batch(spec)
    info = StepInfo(0, 1000, 100)
    snapshot = Snapshot(*states)
    fns = [lambda: ours(views, originals, info)] + [lambda r=r: r(views) for r in refs.values()]
    t_ours, *t_refs = paired_times(fns, repeats, setup=snapshot.restore)
    out = {"method": method, "arch": arch, "batch_size": batch, "image_size": image_size,
           "ours_memory_format": str(ours.memory_format).removeprefix("torch."), "ours_img_per_s": batch / min(t_ours)}
    for name, t_ref in zip(refs, t_refs):
        out[f"{name}_img_per_s"] = batch / min(t_ref)
        out[f"ours_over_{name}"] = ratio_of_minima(t_ref, t_ours)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=["simclr", "mocov3"])
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    results = [measure(m, args.arch, args.batch, args.image_size, args.repeats) for m in args.methods]
    emit("throughput", repeats=args.repeats, recipes="config/config.yaml (tiny) heads and losses", cases=results,
         min_ours_over_reference=min(r["ours_over_reference"] for r in results),
         min_ours_over_reference_same_layout=min(r["ours_over_reference_same_layout"] for r in results))


if __name__ == "__main__":
    main()
