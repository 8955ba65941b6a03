import pytest
import torch
from torch import nn

from evaluations.cosine_study import cosine_study
from torchvision.datasets import ImageFolder

RECIPE = {"image_size": 16, "min_scale": 0.2, "blur_prob": 0.0}


class Constant(nn.Module):
    def forward(self, x):
        return torch.ones(x.shape[0], 4)


class MeanColour(nn.Module):
    """Per-channel mean: common views keep colours up to jitter, strong views (RandAugment +
    grey Cutout) change them more, but both stay positive."""

    def forward(self, x):
        return x.mean(dim=(2, 3)) + 3.0  # shift so normalised colours are positive


def test_cosine_study_is_reproducible_and_bounded(tiny_folder):
    paths = ImageFolder(str(tiny_folder / "val"))  # (PIL image, label) items
    const = cosine_study(Constant(), paths, RECIPE)
    assert abs(const["common"] - 1) < 1e-6 and abs(const["strong"] - 1) < 1e-6 and const["n_images"] == len(paths)
    a = cosine_study(MeanColour(), paths, RECIPE, seed=0, batch_size=3)
    b = cosine_study(MeanColour(), paths, RECIPE, seed=0, batch_size=256)
    c = cosine_study(MeanColour(), paths, RECIPE, seed=1, batch_size=3)
    assert a == pytest.approx(b) and a != c
    assert 0 < a["strong"] <= 1 and 0 < a["common"] <= 1
    assert const["diff_sd"] == pytest.approx(0, abs=1e-6) and a["diff_sd"] > 0  # per image, paired


def test_cosine_cli_takes_the_first_n_val_images(tiny_folder, tmp_path):
    """`--n-images N` (eval.cosine_study.n_images) studies the first N val images, 0 every one."""
    import json
    from pathlib import Path

    import pandas as pd

    from evaluations.__main__ import main
    from ssl_core.backbones import build_backbone
    from ssl_core.config import load_config, run_matrix, training_spec
    from ssl_core.io import save_torch

    ROOT = Path(__file__).resolve().parents[2]

    torch.manual_seed(0)
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": build_backbone("resnet_tiny").state_dict()},
               tmp_path / "backbone.pt")
    config = load_config(ROOT / "config" / "config.yaml")
    spec = training_spec(next(s for s in run_matrix(config).values() if s["method"] == "simclr"))
    spec["data"]["root"], spec["recipe"]["image_size"] = str(tiny_folder), 16
    n_val = len(ImageFolder(str(tiny_folder / "val")))
    for n, expected in ((3, 3), (0, n_val)):
        out = tmp_path / f"cos{n}.csv"
        main(["cosine", "--backbone", str(tmp_path / "backbone.pt"), "--spec", json.dumps(spec),
              "--paper", str(ROOT / "results" / "paper" / "cosine_study.csv"), "--n-images", str(n), "--out", str(out)])
        assert set(pd.read_csv(out).n_images) == {expected}
