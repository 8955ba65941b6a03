"""Frozen-backbone feature extraction shared by the evaluations."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm


@torch.no_grad()
def extract_features(backbone: nn.Module, dataset: Dataset, batch_size: int = 256, num_workers: int = 0,
                     device: torch.device | str = "cpu", desc: str = "features") -> tuple[torch.Tensor, torch.Tensor]:
    """Features [N, D] and targets of ``dataset`` (in order), backbone in eval mode (BN frozen)."""
    backbone.eval().to(device)
    feats, targets = [], []
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    for images, target in tqdm(loader, desc=desc, unit="batch", mininterval=2.0):
        feats.append(backbone(images.to(device)).float().cpu())
        targets.append(torch.as_tensor(target))
    return torch.cat(feats), torch.cat(targets)
