"""Linear probe: each method's official protocol, read from config/paper.yaml and checked against
moco-v3 (main_lincls.py, CONFIG.md) and dinov2 (dinov2/eval/linear.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluations.linear_probe import (DINOV2_LEARNING_RATES, DINOV2_N_LAST_BLOCKS, DINOv2LinearInput,
                                      dinov2_columns, train_linear_probe)
from ssl_core.backbones import build_backbone
from ssl_core.config import linear_settings, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_paper_probe_settings_follow_each_methods_official_source():
    linear = load_config(ROOT / "config" / "paper.yaml")["eval"]["linear"]
    for method in ("simclr", "mocov3"):  # main_lincls.py: --lr 0.1 (x B/256), 90 epochs, batch 1024
        r50 = linear_settings(linear, method, "resnet50")
        assert (r50["protocol"], r50["base_lr"], r50["epochs"], r50["batch_size"], r50["augment"]) == \
            ("main_lincls", 0.1, 90, 1024, True)
    for arch in ("vit_small", "vit_base"):  # CONFIG.md: main_lincls.py -a vit_small/vit_base --lr=3
        vit = linear_settings(linear, "mocov3", arch)
        assert (vit["protocol"], vit["base_lr"], vit["epochs"]) == ("main_lincls", 3.0, 90)
    dino = linear_settings(linear, "dinov2", "vit_large")  # linear.py get_args_parser defaults
    assert dino["protocol"] == "dinov2"
    assert (dino["epochs"], dino["epoch_length"]) == (10, 1250)
    assert dino["learning_rates"] == [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1]
    assert list(DINOV2_LEARNING_RATES) == dino["learning_rates"] and dino["n_last_blocks"] == [1, 4]
    assert list(DINOV2_N_LAST_BLOCKS) == [1, 4]
    assert dino["select_on"] == "train_holdout"  # the one documented difference (docs/protocols.md)
    assert linear_settings(linear, "supervised", "vit_small")["base_lr"] == 0.1  # no override matches


def _official_create_linear_input(x_tokens_list, use_n_blocks, use_avgpool):
    """dinov2/eval/linear.py ``create_linear_input``, transcribed."""
    intermediate_output = x_tokens_list[-use_n_blocks:]
    output = torch.cat([class_token for _, class_token in intermediate_output], dim=-1)
    if use_avgpool:
        output = torch.cat((output, torch.mean(intermediate_output[-1][0], dim=1)), dim=-1)
    return output.float()


def test_dinov2_linear_input_matches_the_official_construction():
    torch.manual_seed(0)
    vit = build_backbone("vit_tiny_test", img_size=16, patch_size=8, recipe="dinov2").eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        row = DINOv2LinearInput(vit, 4)(x)
        # the official x_tokens_list, computed here block by block: (patch tokens, class token) of
        # each of the last 4 blocks, each through the final norm (get_intermediate_layers, norm=True)
        t = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
        outs = []
        for blk in vit.blocks:
            t = blk(t)
            outs.append(vit.norm(t))
        tokens = [(o[:, 1:], o[:, 0]) for o in outs[-4:]]
    d = vit.embed_dim
    assert row.shape == (3, 5 * d)
    for n in (1, 4):
        for avgpool in (False, True):
            torch.testing.assert_close(row[:, dinov2_columns(d, 4, n, avgpool)],
                                       _official_create_linear_input(tokens, n, avgpool))


def _halves_folder(root: Path, n_per_class: int, seed: int) -> Path:
    """Class 0: the left half of the image is bright, class 1: the right half (plus noise)."""
    rng = np.random.default_rng(seed)
    for c in range(2):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 60, (16, 16, 3))
            pixels[:, (0 if c == 0 else 8):(8 if c == 0 else 16)] += 180
            Image.fromarray(pixels.astype(np.uint8)).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.fixture
def halves(tmp_path):
    _halves_folder(tmp_path / "data" / "train", 20, 0)
    _halves_folder(tmp_path / "data" / "val", 8, 1)
    return {"name": "shapes", "root": str(tmp_path / "data"), "num_workers": 0}


class HalvesViT(torch.nn.Module):
    """A stand-in ViT whose class tokens carry nothing (constant) and whose two patch tokens are the
    brightness of the image's left and right half: only layers on the pooled patch tokens can tell
    the classes of ``halves`` apart (known answer: the picked layer has avgpool True)."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def get_intermediate_layers(self, x, n, return_prefix_tokens, norm):
        # offset: at the N(0, 0.01) init every image gets the same class, untrained layers score 50 %
        left, right = x[:, :, :, :8].mean((1, 2, 3)) + 3, x[:, :, :, 8:].mean((1, 2, 3)) + 3
        zero = torch.zeros_like(left)
        patches = torch.stack([torch.stack([left, zero], 1), torch.stack([zero, right], 1)], 1)  # [B, 2, 2]
        cls = torch.ones(x.shape[0], 1, 2)
        return [(patches, cls) for _ in range(n)]


@pytest.mark.parametrize("select_on", ["val", "train_holdout"])
def test_dinov2_protocol_trains_the_grid_and_picks_the_best_layer(halves, select_on):
    torch.manual_seed(0)
    cfg = {"protocol": "dinov2", "epochs": 4, "epoch_length": 10, "batch_size": 8, "augment": False,
           "base_lr": 0.1, "learning_rates": [1e-5, 100.0], "n_last_blocks": [1, 2], "select_on": select_on,
           "holdout_fraction": 0.25}
    r = train_linear_probe(HalvesViT(), halves, cfg, image_size=16)
    assert r["protocol"] == "dinov2" and r["iterations"] == 40 and r["select_on"] == select_on
    # 2 block counts x 2 pooling x 2 lrs trained; only pooled layers at the large lr can separate
    assert r["value"] == 100.0 and "avgpoolTrue_lr100" in r["best_head"]
    assert r["train_size"] == (40 if select_on == "val" else 30)  # 25 % of train held out for the choice
    if select_on == "val":
        assert r["selection_top1"] == r["value"]


def test_main_lincls_protocol_on_separable_data(halves):
    torch.manual_seed(0)
    cfg = {"epochs": 30, "batch_size": 8, "base_lr": 3.0, "augment": False}
    r = train_linear_probe(build_backbone("resnet_tiny"), halves, cfg, image_size=16)
    assert r["protocol"] == "main_lincls" and r["value"] == 100.0 and r["iterations"] == 30 * 5
    assert "best_head" not in r


def test_dinov2_protocol_needs_a_vit(halves):
    with pytest.raises(ValueError, match="ViT"):
        train_linear_probe(build_backbone("resnet_tiny"), halves, {"protocol": "dinov2", "epochs": 1,
                           "batch_size": 8, "base_lr": 0.1, "augment": False}, image_size=16)


def test_probe_keeps_each_val_images_prediction_and_writes_them(halves, tmp_path):
    import gzip

    from evaluations.linear_probe import write_predictions

    torch.manual_seed(0)
    cfg = {"epochs": 2, "batch_size": 8, "base_lr": 0.01, "augment": False}
    r = train_linear_probe(build_backbone("resnet_tiny"), halves, cfg, image_size=16)
    labels, predicted = r["predictions"]["label"], r["predictions"]["predicted"]
    assert len(labels) == len(predicted) == r["val_size"]
    # the reported top-1 is the saved predictions' accuracy
    assert r["value"] == pytest.approx(100.0 * sum(a == b for a, b in zip(labels, predicted)) / len(labels))
    path = tmp_path / "p.csv.gz"
    write_predictions(path, labels, predicted)
    first = path.read_bytes()
    lines = gzip.decompress(first).decode().splitlines()
    assert lines[0] == "index,label,predicted" and len(lines) == len(labels) + 1
    assert lines[1] == f"0,{labels[0]},{predicted[0]}"
    write_predictions(path, labels, predicted)
    assert path.read_bytes() == first  # no timestamp: a rerun is byte-equal
