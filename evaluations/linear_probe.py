"""Linear probe on a frozen backbone (paper Fig. 2), in the official protocol of each method
(``eval.linear``, resolved per run by ``ssl_core.config.linear_settings``; docs/protocols.md).

``protocol: main_lincls`` -- moco-v3 ``main_lincls.py`` (SimCLR and MoCo v3 rows): one new linear
layer (init N(0, 0.01), bias 0) on the backbone's features; SGD momentum 0.9, wd 0,
lr = base_lr x B/256 (0.1 for ResNet-50, 3 for ViTs: moco-v3 CONFIG.md ``--lr=3``) with a
per-epoch half-cosine decay; top-1 of that layer on the val split after the last epoch.

``protocol: dinov2`` -- facebookresearch/dinov2 ``dinov2/eval/linear.py`` (DINOv2 rows): from one
forward, the normalised class tokens of the last 4 blocks and the average of the last block's
patch tokens (``ModelWithIntermediateLayers`` / ``create_linear_input``); one linear layer per
(last 1 or 4 class tokens) x (with or without the pooled patch tokens) x learning rate of the grid
(each x B/256), all trained at once on the sum of their cross-entropies, SGD momentum 0.9, wd 0,
per-iteration cosine to 0 over ``epochs x epoch_length`` iterations (10 x 1250), drop_last; the
best layer is picked by top-1 on ``select_on``: ``val`` (the official script's default: the val
set it also reports) or ``train_holdout`` (a seeded ``holdout_fraction`` of train, left out of the
fit; the layer picked there is scored on val).

Each protocol is one object behind the same interface (:class:`MainLincls`, :class:`DINOv2Linear`;
:func:`protocol_of`): the features it reads, the held-out part of train, the layers, the epoch
length, the lr schedule's progress and the extra result fields; the loop is shared.

Both: the backbone stays in eval mode (BN frozen) and is checked unchanged afterwards.
``augment=True`` is the official training augmentation (RandomResizedCrop + flip, features
recomputed every batch); ``augment=False`` computes centre-crop features once and trains on them
(identical apart from the augmentation; what makes the tiny profile's probe take seconds).
"""
from __future__ import annotations

import gzip
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision.transforms import v2

from evaluations.features import extract_features
from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD
from ssl_core.augment.originals import eval_transform
from ssl_core.datasets import pretrain_split
from ssl_core.io import atomic_path, load_torch, save_torch
from ssl_core.preemption import Preempted, Preemption
from ssl_core.seeding import item_seed

#: dinov2/eval/linear.py ``get_args_parser`` defaults.
DINOV2_LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)
DINOV2_N_LAST_BLOCKS = (1, 4)


class DINOv2LinearInput(nn.Module):
    """[B, 3, H, W] -> [B, (n + 1) D]: the class tokens of the last ``n`` blocks (oldest first)
    and the mean of the last block's patch tokens, every block output through the final norm
    (dinov2 ``get_intermediate_layers(n, return_class_token=True)``, norm=True). A head on
    ``n' <= n`` blocks with/without pooling reads a column range of it (:func:`dinov2_columns`)."""

    def __init__(self, vit: nn.Module, n_last_blocks: int) -> None:
        super().__init__()
        if not hasattr(vit, "get_intermediate_layers"):
            raise ValueError("the dinov2 linear protocol needs a ViT (class and patch tokens per block)")
        self.vit, self.n = vit, n_last_blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self.vit.get_intermediate_layers(x, n=self.n, return_prefix_tokens=True, norm=True)
        class_tokens = [prefix[:, 0] for _, prefix in layers]
        return torch.cat(class_tokens + [layers[-1][0].mean(1)], dim=1)


def dinov2_columns(dim: int, n_stored: int, n: int, avgpool: bool) -> torch.Tensor:
    """Column indices of ``create_linear_input(use_n_blocks=n, use_avgpool)`` in a
    :class:`DINOv2LinearInput` row of ``n_stored`` blocks of width ``dim``."""
    cols = torch.arange((n_stored - n) * dim, n_stored * dim)
    if avgpool:
        cols = torch.cat([cols, torch.arange(n_stored * dim, (n_stored + 1) * dim)])
    return cols


@dataclass
class _Head:
    name: str
    columns: torch.Tensor | None  # None: every feature
    lr: float
    linear: nn.Linear


def _linear(n_in: int, n_classes: int, device) -> nn.Linear:  # both protocols: N(0, 0.01), bias 0
    layer = nn.Linear(n_in, n_classes).to(device)
    nn.init.normal_(layer.weight, std=0.01)
    nn.init.zeros_(layer.bias)
    return layer


class MainLincls:
    """moco-v3 ``main_lincls.py``: the backbone's features, one layer at ``base_lr`` x B/256, a
    half-cosine per epoch over passes of ceil(N/B) batches (the last one short), no selection."""

    name = "main_lincls"
    drop_last = False

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg

    def features(self, backbone: nn.Module) -> nn.Module:
        return backbone

    def holdout(self, n_train: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(indices of train the layers fit on, indices they are picked on or None)."""
        return torch.arange(n_train), None

    def heads(self, dim: int, n_classes: int, device) -> list[_Head]:
        return [_Head("linear", None, self.cfg["base_lr"] * self.cfg["batch_size"] / 256, _linear(dim, n_classes, device))]

    def steps_per_epoch(self, n_fit: int) -> int:
        return self.cfg.get("epoch_length") or math.ceil(n_fit / self.cfg["batch_size"])

    def progress(self, step: int, steps_per_epoch: int, total: int) -> float:
        return (step // steps_per_epoch) / self.cfg["epochs"]  # adjust_learning_rate: per epoch

    def extras(self, heads: list[_Head], best: int, select_scores: list[float]) -> dict[str, Any]:
        return {}


class DINOv2Linear(MainLincls):
    """dinov2 ``eval/linear.py``: the class tokens of the last blocks and the pooled patch tokens,
    a grid of layers (blocks x pooling x lr) trained at once, per-iteration cosine, drop_last, the
    best layer picked on ``select_on`` (val, or a seeded holdout of train)."""

    name = "dinov2"
    drop_last = True

    def features(self, backbone: nn.Module) -> nn.Module:
        return DINOv2LinearInput(backbone, max(self.cfg.get("n_last_blocks", DINOV2_N_LAST_BLOCKS)))

    def holdout(self, n_train: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.cfg.get("select_on", "val") != "train_holdout":
            return torch.arange(n_train), None
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))
        n_hold = max(1, round(self.cfg.get("holdout_fraction", 0.1) * len(order)))
        return order[n_hold:].sort().values, order[:n_hold]

    def heads(self, dim: int, n_classes: int, device) -> list[_Head]:
        scale = self.cfg["batch_size"] / 256
        blocks = self.cfg.get("n_last_blocks", list(DINOV2_N_LAST_BLOCKS))
        width = dim // (max(blocks) + 1)
        heads = []
        for n in blocks:
            for avgpool in (False, True):
                cols = dinov2_columns(width, max(blocks), n, avgpool).to(device)
                for lr in self.cfg.get("learning_rates", list(DINOV2_LEARNING_RATES)):
                    heads.append(_Head(f"blocks{n}_avgpool{avgpool}_lr{lr:g}", cols, lr * scale,
                                       _linear(len(cols), n_classes, device)))
        return heads

    def steps_per_epoch(self, n_fit: int) -> int:
        return self.cfg.get("epoch_length") or n_fit // self.cfg["batch_size"]

    def progress(self, step: int, steps_per_epoch: int, total: int) -> float:
        return step / total  # CosineAnnealingLR: per iteration

    def extras(self, heads: list[_Head], best: int, select_scores: list[float]) -> dict[str, Any]:
        return {"best_head": heads[best].name, "select_on": self.cfg.get("select_on", "val"),
                "selection_top1": select_scores[best]}


PROTOCOLS = {p.name: p for p in (MainLincls, DINOv2Linear)}


def protocol_of(cfg: dict[str, Any]) -> MainLincls:
    """The protocol object of ``cfg["protocol"]`` (default ``main_lincls``)."""
    name = cfg.get("protocol", "main_lincls")
    if name not in PROTOCOLS:
        raise ValueError(f"eval.linear.protocol {name!r} is not one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name](cfg)


def _state_fingerprint(module: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in module.state_dict().values()]


def _predictions(heads: list[_Head], x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return [_logits(h, x).argmax(1).cpu() for h in heads]


def _top1(predictions: list[torch.Tensor], y: torch.Tensor) -> list[float]:
    return [100.0 * (p == y).float().mean().item() for p in predictions]


def _logits(head: _Head, x: torch.Tensor) -> torch.Tensor:
    return head.linear(x if head.columns is None else x[:, head.columns])


class _SeededAugment(Dataset):
    """The training augmentation of image ``index`` in pass ``p`` drawn from its own seed
    (``item_seed(seed, p, index)``, as the pretraining views): a batch's images are the same
    whether the probe ran uncut or resumed in the middle of a pass. Keys are (pass, index)."""

    def __init__(self, base: Dataset, seed: int) -> None:
        self.base, self.seed = base, seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]):
        pass_, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed(self.seed, pass_, index))
            return self.base[index]


CHECKPOINT = "probe.pt"


def _resume(ckpt_dir: Path | None, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The probe state in ``ckpt_dir`` when it belongs to this probe (same ``identity``); a state of
    another probe (an edited setting, another backbone) is set aside, named in the log."""
    path = None if ckpt_dir is None else ckpt_dir / CHECKPOINT
    if path is None or not path.exists():
        return None
    try:
        state = load_torch(path)
        if state.get("identity") == identity:
            return state
        why = "belongs to another probe (settings or backbone changed)"
    except Exception as e:  # noqa: BLE001 - a state we cannot read is set aside, whatever the cause
        why = f"cannot be read ({type(e).__name__})"
    aside = path.with_name(f"{path.name}.set-aside")
    os.replace(path, aside)
    print(f"WARNING: {path} {why}; set aside as {aside}; starting the probe afresh", file=sys.stderr, flush=True)
    return None


def train_linear_probe(backbone: nn.Module, data: dict[str, Any], cfg: dict[str, Any], *,
                       image_size: int, seed: int = 0, num_workers: int = 0,
                       device: torch.device | str = "cpu", ckpt_dir: str | Path | None = None,
                       identity: dict[str, Any] | None = None, preemption: Preemption | None = None
                       ) -> dict[str, Any]:
    """Train the probe on the train split of ``data`` (the config's ``data.pretrain``, through the
    dataset registry) with the run's resolved ``eval.linear`` settings ``cfg`` and report top-1 (%)
    on its val split, with the chosen head's prediction of every val image (``predictions``).

    Resumable: with ``ckpt_dir``, the layers, the optimiser and the step are saved atomically there
    at every epoch's end (``cfg["ckpt_every_steps"]`` to change it) and when ``preemption`` is
    requested (then :class:`Preempted` is raised); a later call with the same ``identity`` (what
    the probe is of: settings, backbone) continues from it to the same result as an uncut probe:
    every pass's order and every augmentation are drawn from the seed, the pass and the index."""
    protocol = protocol_of(cfg)
    features = protocol.features(backbone)
    resize = image_size if image_size < 224 else int(image_size * 256 / 224)  # Resize 256 / crop 224
    before = _state_fingerprint(backbone)
    features.eval().to(device)
    bs = cfg["batch_size"]
    val_set = pretrain_split(data, "val", eval_transform(image_size, resize))
    val_x, val_y = extract_features(features, val_set, bs, num_workers, device, "val features")
    n_classes = len(val_set.classes)

    plain_train = pretrain_split(data, "train", eval_transform(image_size, resize))
    fit_idx, hold_idx = protocol.holdout(len(plain_train), seed)
    select_x = select_y = None
    if hold_idx is not None:
        select_x, select_y = extract_features(features, Subset(plain_train, hold_idx.tolist()), bs,
                                              num_workers, device, "holdout features")

    torch.manual_seed(seed)
    heads = protocol.heads(val_x.shape[1], n_classes, device)
    optimizer = torch.optim.SGD([{"params": h.linear.parameters(), "lr": h.lr} for h in heads],
                                momentum=0.9, weight_decay=0.0)
    for group, head in zip(optimizer.param_groups, heads):
        group["peak_lr"] = head.lr

    n_fit = len(fit_idx)
    passes = _Passes(n_fit, bs, protocol.drop_last, seed)
    if cfg["augment"]:
        train_set = _SeededAugment(pretrain_split(data, "train", v2.Compose([
            v2.ToImage(), v2.RandomResizedCrop(image_size, antialias=True), v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])), seed)

        def batches_from(step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            keys = ([(p, int(fit_idx[i])) for i in idx] for p, idx in passes.batches_from(step))
            for images, y in DataLoader(train_set, batch_sampler=keys, num_workers=num_workers):
                with torch.no_grad():
                    x = features(images.to(device)).float()
                yield x, y.to(device)
    else:
        train_x, train_y = extract_features(features, Subset(plain_train, fit_idx.tolist()), bs, num_workers,
                                            device, "train features")
        train_x, train_y = train_x.to(device), train_y.to(device)

        def batches_from(step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for _, idx in passes.batches_from(step):
                idx = idx.to(device)
                yield train_x[idx], train_y[idx]
    steps_per_epoch = protocol.steps_per_epoch(n_fit)
    total = cfg["epochs"] * steps_per_epoch
    ckpt_every = cfg.get("ckpt_every_steps") or steps_per_epoch

    ckpt_dir = None if ckpt_dir is None else Path(ckpt_dir)
    identity = {"cfg": cfg, "seed": seed, "image_size": image_size, **(identity or {})}
    step, state = 0, _resume(ckpt_dir, identity)
    if state is not None:
        step = state["step"]
        for head, head_state in zip(heads, state["heads"]):
            head.linear.load_state_dict(head_state)
        optimizer.load_state_dict(state["optimizer"])

    def checkpoint() -> None:
        if ckpt_dir is not None:
            save_torch({"identity": identity, "step": step, "heads": [h.linear.state_dict() for h in heads],
                        "optimizer": optimizer.state_dict()}, ckpt_dir / CHECKPOINT)

    for x, y in _steps(batches_from(step), step, total):
        progress = protocol.progress(step, steps_per_epoch, total)
        for group in optimizer.param_groups:
            group["lr"] = group["peak_lr"] * 0.5 * (1.0 + math.cos(math.pi * progress))
        loss = sum(nn.functional.cross_entropy(_logits(h, x), y) for h in heads)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step < total and preemption is not None and preemption.requested:
            checkpoint()
            raise Preempted(f"linear probe stopped at step {step} of {total}; state saved in {ckpt_dir}")
        if step % ckpt_every == 0 and step < total:
            checkpoint()
    checkpoint()  # the finished layers: a job killed while writing its outputs does not train again

    val_x = val_x.to(device)
    val_predictions = _predictions(heads, val_x)
    val_scores = _top1(val_predictions, val_y)
    select_scores = val_scores if select_x is None else _top1(_predictions(heads, select_x.to(device)), select_y)
    best = max(range(len(heads)), key=lambda i: select_scores[i])  # first maximum, as dinov2's ">"
    after = _state_fingerprint(backbone.cpu())
    if not all(torch.equal(a, b.cpu()) for a, b in zip(after, before)):
        raise RuntimeError("the backbone changed during linear probing")  # moco-v3 sanity_check
    result = {"metric": "top1", "value": val_scores[best], "train_size": n_fit, "val_size": len(val_set),
              "epochs": cfg["epochs"], "iterations": total, "augment": cfg["augment"], "protocol": protocol.name,
              "torch_threads": torch.get_num_threads(),
              # Per val image (in the split's order), for paired analyses across runs: not a metric.
              "predictions": {"label": val_y.tolist(), "predicted": val_predictions[best].tolist()}}
    return result | protocol.extras(heads, best, select_scores)


def _steps(batches: Iterator, step: int, total: int) -> Iterator:
    """The batches of steps ``step`` .. ``total - 1``."""
    return (b for _, b in zip(range(step, total), batches))


class _Passes:
    """The batches of the probe's passes over its ``n`` training images: pass ``p``'s order is the
    ``p``-th permutation of one generator seeded ``seed`` (drop_last per protocol), passes repeat
    until the last step (a dinov2 epoch is a fixed number of iterations, not a pass). A resumed
    probe replays the permutations before its step (indices only, no image is read)."""

    def __init__(self, n: int, batch_size: int, drop_last: bool, seed: int) -> None:
        self.n, self.bs, self.drop_last, self.seed = n, batch_size, drop_last, seed
        self.per_pass = n // batch_size if drop_last else math.ceil(n / batch_size)
        if self.per_pass == 0:
            raise ValueError(f"eval.linear.batch_size {batch_size} exceeds the {n} training images of the probe")

    def batches_from(self, step: int) -> Iterator[tuple[int, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        first_pass, skip = divmod(step, self.per_pass)
        for _ in range(first_pass):
            torch.randperm(self.n, generator=generator)
        p = first_pass
        while True:
            order = torch.randperm(self.n, generator=generator)
            for i, idx in enumerate(order.split(self.bs)):
                if (p > first_pass or i >= skip) and (not self.drop_last or len(idx) == self.bs):
                    yield p, idx
            p += 1


def write_predictions(path: str | Path, labels: list[int], predicted: list[int]) -> None:
    """``index,label,predicted`` per val image, gzip-compressed (no timestamp: reruns are byte-equal)."""
    text = "index,label,predicted\n" + "".join(f"{i},{y},{p}\n" for i, (y, p) in enumerate(zip(labels, predicted)))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
            out.write(text.encode())
