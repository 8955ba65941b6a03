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
