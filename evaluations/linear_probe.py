"""Linear probe on a frozen backbone (paper Fig. 2), following moco-v3 ``main_lincls.py``:
only a new linear layer trains (init N(0, 0.01), bias 0), the backbone stays in eval mode (BN
frozen) and is checked unchanged afterwards; SGD momentum 0.9, wd 0, lr = base_lr x B/256 with a
per-epoch half-cosine decay; top-1 on the held-out split.

``augment=True`` is the official protocol (RandomResizedCrop + flip, features recomputed every
epoch). ``augment=False`` computes centre-crop features once and trains on them: identical apart
from the training augmentation, and what makes the tiny profile's probe take seconds.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from evaluations.features import extract_features
from ssl_core.datasets import pretrain_split
from ssl_core.augment import eval_transform
from ssl_core.strong_augment import IMAGENET_MEAN, IMAGENET_STD


def _state_fingerprint(module: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in module.state_dict().values()]


def train_linear_probe(backbone: nn.Module, data: dict[str, Any], cfg: dict[str, Any], *,
                       image_size: int, seed: int = 0, num_workers: int = 0,
                       device: torch.device | str = "cpu") -> dict[str, Any]:
    """Train the probe on the train split of ``data`` (the config's ``data.pretrain``, through the
    dataset registry) and report top-1 (%) on its val split."""
    resize = image_size if image_size < 224 else int(image_size * 256 / 224)  # Resize 256 / crop 224
    val_set = pretrain_split(data, "val", eval_transform(image_size, resize))
    before = _state_fingerprint(backbone)
    backbone.eval().to(device)
    val_x, val_y = extract_features(backbone, val_set, cfg["batch_size"], num_workers, device, "val features")
    n_classes = len(val_set.classes)

    torch.manual_seed(seed)
    head = nn.Linear(val_x.shape[1], n_classes).to(device)
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    peak_lr = cfg["base_lr"] * cfg["batch_size"] / 256
    optimizer = torch.optim.SGD(head.parameters(), lr=peak_lr, momentum=0.9, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)

    if cfg["augment"]:
        train_set = pretrain_split(data, "train", v2.Compose([
            v2.ToImage(), v2.RandomResizedCrop(image_size, antialias=True), v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]))
        loader = DataLoader(train_set, cfg["batch_size"], shuffle=True, num_workers=num_workers,
                            generator=generator, drop_last=False)

        def batches():
            for images, y in loader:
                with torch.no_grad():
                    yield backbone(images.to(device)), y.to(device)
        n_train = len(train_set)
    else:
        train_set = pretrain_split(data, "train", eval_transform(image_size, resize))
        train_x, train_y = extract_features(backbone, train_set, cfg["batch_size"], num_workers, device, "train features")
        train_x, train_y = train_x.to(device), train_y.to(device)
        n_train = len(train_set)

        def batches():
            order = torch.randperm(n_train, generator=generator).to(device)
            for idx in order.split(cfg["batch_size"]):
                yield train_x[idx], train_y[idx]

    for epoch in range(cfg["epochs"]):
        for group in optimizer.param_groups:
            group["lr"] = peak_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / cfg["epochs"]))
        for x, y in batches():
            loss = nn.functional.cross_entropy(head(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    with torch.no_grad():
        pred = head(val_x.to(device)).argmax(1).cpu()
    after = _state_fingerprint(backbone.cpu())
    unchanged = all(torch.equal(a, b.cpu()) for a, b in zip(after, before))
    if not unchanged:  # moco-v3 sanity_check: the probe must not touch the backbone
        raise RuntimeError("the backbone changed during linear probing")
    return {"metric": "top1", "value": 100.0 * (pred == val_y).float().mean().item(),
            "train_size": n_train, "val_size": len(val_set), "epochs": cfg["epochs"],
            "augment": cfg["augment"]}
