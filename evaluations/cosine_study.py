"""The paper's Sec. 3 check that strong views are more diverse than common ones: under a trained
encoder f, the mean cosine similarity over a dataset between two common views of an image
(paper: 0.7069) and between a common and a strong view of it (paper: 0.6690)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset

from evaluations.results import read_metrics
from ssl_core.augment.common import CommonViewConfig, common_view_transform
from ssl_core.augment.originals import original_transform
from ssl_core.augment.strong import StrongAugment
from ssl_core.backbones import load_backbone
from ssl_core.datasets import pretrain_split
from ssl_core.datasets.pretrain import item_seed
from ssl_core.distributed import resolve_device


@torch.no_grad()
def cosine_study(backbone: nn.Module, images: Dataset, recipe: dict[str, Any], seed: int = 0,
                 batch_size: int = 256, device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean cos(f(common_a), f(common_b)) and mean cos(f(common_a), f(strong)) over ``images``
    (a dataset of (PIL image, label)), and ``diff_sd``, the std over images of the per-image
    difference of the two (the claim's interval is over images),
    with the SimCLR common views of ``recipe`` and the rescue term's strong views; the views of
    image i are drawn from (seed, i), so the study is reproducible and independent of batching."""
    size = recipe["image_size"]
    common = common_view_transform(CommonViewConfig(size=size, min_scale=recipe.get("min_scale", 0.08),
                                                    blur_prob=recipe.get("blur_prob", 0.5)))
    original, strong = original_transform(size), StrongAugment(size=size)
    backbone.eval().to(device)
    cos_common, cos_strong = [], []
    for start in range(0, len(images), batch_size):
        views_a, views_b, originals = [], [], []
        for i in range(start, min(start + batch_size, len(images))):
            img = images[i][0]
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(item_seed(seed, 0, i))
                views_a.append(common(img))
                views_b.append(common(img))
            originals.append(strong(original(img)[None], torch.Generator().manual_seed(item_seed(seed, 1, i)))[0])
        z_s = torch.stack(originals)
        z_a, z_b, z_s = (backbone(torch.stack(v).to(device) if isinstance(v, list) else v.to(device))
                         for v in (views_a, views_b, z_s))
        cos_common.append(F.cosine_similarity(z_a, z_b, dim=1).cpu())
        cos_strong.append(F.cosine_similarity(z_a, z_s, dim=1).cpu())
    common, strong = torch.cat(cos_common).double(), torch.cat(cos_strong).double()
    diff = common - strong  # per image: the claim's difference, paired by image
    return {"common": common.mean().item(), "strong": strong.mean().item(), "n_images": len(images),
            "diff_sd": diff.std().item() if len(images) > 1 else float("nan")}


def cosine_table(backbone: str | Path, spec: dict[str, Any], paper: str | Path, n_images: int = 0) -> pd.DataFrame:
    """The study of the encoder ``backbone`` (a backbone.pt of the run ``spec``) on the first
    ``n_images`` val images of its pretraining data (0: every one; eval.cosine_study.n_images),
    beside the paper's values (``paper``: results/paper/cosine_study.csv): one row per view pair."""
    val = pretrain_split(spec["data"], "val")
    if 0 < n_images < len(val):
        val = Subset(val, range(n_images))
    ours = cosine_study(load_backbone(backbone), val, spec["recipe"], seed=spec["seed"],
                        device=resolve_device(spec["train"]["device"]))
    published = {r.run.rsplit("-", 1)[-1]: r.value for r in read_metrics(paper).itertuples()}
    return pd.DataFrame([{
        "views": views, "published": published.get(views, float("nan")), "ours": ours[views],
        "published_encoder": "ResNet-50 trained on ImageNet (paper Sec. 3)",
        "our_encoder": f"{spec['run']} ({spec['arch']})", "n_images": ours["n_images"], "diff_sd": ours["diff_sd"],
    } for views in ("common", "strong")])
