"""The supervised ceiling: trains with labels, writes a run's outputs, resumes."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from evaluations.linear_probe import train_linear_probe
from ssl_core.backbones import load_backbone
from ssl_core.supervised import train_supervised


def write_easy_folder(root, n_per_class, seed):
    """Two classes anyone can tell apart: a bright square in the top or in the bottom half (not
    left / right: the recipe's horizontal flips would swap those)."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("bottom", "top")):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            x, y = rng.integers(2, 10), rng.integers(0, 3) + 9 * (1 - c)
            pixels[y:y + 5, x:x + 5] = 230
            Image.fromarray(pixels).save(root / name / f"{i}.png")


@pytest.fixture
def easy(tmp_path):
    write_easy_folder(tmp_path / "easy" / "train", 32, 0)
    write_easy_folder(tmp_path / "easy" / "val", 16, 1)
    return tmp_path / "easy"


def spec(root, epochs=6):
    return {"run": "supervised-resnet_tiny-seed0", "method": "supervised", "arch": "resnet_tiny",
            "variant": "supervised", "seed": 0, "k": None, "s": None, "sweep": None,
            "recipe": {"epochs": epochs, "batch_size": 16, "optimizer": "adamw", "base_lr": 0.02,
                       "weight_decay": 0.0, "warmup_epochs": 0, "min_scale": 1.0, "image_size": 16,
                       "backbone": {"width": 8}},
            "data": {"name": "shapes", "root": str(root), "num_workers": 0},
            "train": {"device": "cpu", "ckpt_every_steps": 10}}


def test_supervised_training_reaches_high_accuracy_on_an_easy_set(easy, tmp_path):
    assert train_supervised(spec(easy), tmp_path / "out", tmp_path / "ckpt")
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["steps"] == 6 * 4 and info["collapse"] is None
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 7)) and records[-1]["loss"] < records[0]["loss"]
    # The written backbone is what the linear probe reads: the ceiling shows in its probe.
    probe = train_linear_probe(load_backbone(tmp_path / "out" / "backbone.pt"), spec(easy)["data"],
                               {"epochs": 30, "batch_size": 16, "base_lr": 0.1, "augment": False}, image_size=16)
    assert probe["value"] >= 90.0


def test_supervised_run_resumes_to_identical_weights(easy, tmp_path):
    assert train_supervised(spec(easy, epochs=2), tmp_path / "full", tmp_path / "ckpt_full")
    assert not train_supervised(spec(easy, epochs=2), tmp_path / "split", tmp_path / "ckpt_split", max_epochs=1)
    assert not (tmp_path / "split" / "backbone.pt").exists()
    assert train_supervised(spec(easy, epochs=2), tmp_path / "split", tmp_path / "ckpt_split")
    full = torch.load(tmp_path / "full" / "backbone.pt", weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "split" / "backbone.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_supervised_ceiling_restarts_on_an_edited_spec_and_survives_a_damaged_checkpoint(easy, tmp_path, capsys):
    s = spec(easy, epochs=2)
    assert not train_supervised(s, tmp_path / "out", tmp_path / "ckpt", max_epochs=1)
    s["recipe"]["base_lr"] = 0.01
    assert train_supervised(s, tmp_path / "out", tmp_path / "ckpt")
    assert "different run spec (changed: recipe.base_lr)" in capsys.readouterr().err
    assert (tmp_path / "ckpt" / "last.pt.other-spec").exists()
    assert json.loads((tmp_path / "out" / "run.json").read_text())["spec"]["recipe"]["base_lr"] == 0.01
    last = tmp_path / "ckpt" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    (tmp_path / "out" / "backbone.pt").unlink()
    assert train_supervised(s, tmp_path / "out", tmp_path / "ckpt")  # resumes from previous.pt (epoch 1)
    err = capsys.readouterr().err
    assert f"{last} cannot be read" in err and "resuming from epoch 1 of 2" in err
