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
    # The trainer's per-step log: one record per step, with the lr schedule and the batch's accuracy.
    assert [r["step"] for r in records] == list(range(24)) and records[-1]["loss"] < records[0]["loss"]
    assert records[0]["lr"] == pytest.approx(0.02 * 16 / 256) and 0.0 <= records[-1]["train_top1"] <= 100.0
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
    assert train_supervised(s, tmp_path / "out", tmp_path / "ckpt")  # resumes from previous.pt
    err = capsys.readouterr().err
    assert f"{last} cannot be read" in err and "resuming from step 8 of 8 (" in err and "previous.pt)" in err
    assert (tmp_path / "out" / "backbone.pt").exists()


def former_loop(spec, n_classes):
    """The ceiling's own training loop before it ran through the trainer (ssl_core.supervised at
    33887dc, without its checkpoints): the reference the shared loop must match bit for bit."""
    from torch import nn
    from torch.utils.data import DataLoader

    from ssl_core.augment.common import N_UNIFORMS, device_views
    from ssl_core.augment.originals import original_transform
    from ssl_core.backbones import build_backbone
    from ssl_core.datasets import pretrain_split
    from ssl_core.optim import build_optimizer, lr_at, param_groups
    from ssl_core.supervised import train_view

    recipe, seed = spec["recipe"], spec["seed"]
    torch.manual_seed(seed)
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    train_set = pretrain_split(spec["data"], "train", original_transform(recipe["image_size"]))
    model = nn.Sequential(backbone, nn.Linear(backbone.feature_dim, n_classes)).to(memory_format=torch.channels_last)
    peak_lr = recipe["base_lr"] * recipe["batch_size"] / 256
    optimizer = build_optimizer(param_groups(model, recipe["weight_decay"]), recipe["optimizer"], peak_lr)
    steps_per_epoch = len(train_set) // recipe["batch_size"]
    total, warmup = recipe["epochs"] * steps_per_epoch, recipe["warmup_epochs"] * steps_per_epoch
    losses, final = [], None
    for epoch in range(recipe["epochs"]):
        loss_sum = correct = seen = 0.0
        torch.manual_seed(seed * 1_000_003 + epoch)
        for i, (x, y) in enumerate(DataLoader(train_set, recipe["batch_size"], shuffle=True, drop_last=True)):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch * steps_per_epoch + i, total, warmup, peak_lr)
            u = torch.rand(len(x), N_UNIFORMS, dtype=torch.float64)
            x = device_views(x, u, train_view(recipe["image_size"], recipe["min_scale"]))
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        final = {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch, "loss": loss_sum / seen,
                 "train_top1": 100.0 * correct / seen}
    return backbone.state_dict(), losses, final


def test_ceiling_through_the_trainer_matches_its_former_loop_bit_for_bit(easy, tmp_path):
    """Same seeds, data order, views, optimizer and schedule: the same weights and per-step losses
    as the stand-alone loop it replaced (with warm-up and weight decay, so every part counts)."""
    s = spec(easy, epochs=2)
    s["recipe"].update(warmup_epochs=1, weight_decay=0.05)
    weights, losses, final = former_loop(s, 2)
    assert train_supervised(s, tmp_path / "out", tmp_path / "ckpt")
    ours = torch.load(tmp_path / "out" / "backbone.pt", weights_only=True)["state_dict"]
    assert ours.keys() == weights.keys() and all(torch.equal(ours[k], weights[k]) for k in weights)
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in records] == losses
    # run.json's final record (metrics.csv's final_loss) is the last epoch's, as the former loop wrote it
    assert json.loads((tmp_path / "out" / "run.json").read_text())["final"] == final


def test_ceiling_checkpoints_at_epoch_ends(easy, tmp_path):
    """Its epoch's random stream cannot restart mid-epoch: a --max-steps stop rounds up to the epoch's
    end (4 steps here), where the checkpoint is."""
    from ssl_core.training import pretrain

    s = spec(easy, epochs=2)
    assert not pretrain(s, tmp_path / "out", tmp_path / "ckpt", max_steps=1)
    assert torch.load(tmp_path / "ckpt" / "last.pt", weights_only=False)["step"] == 4


def test_the_loop_names_no_supervised_case():
    """The ceiling is a registered variant (ssl_core.training.variants): no module of the training
    package names it, and ssl_core.supervised imports the loop at its top with no cycle back."""
    from pathlib import Path

    import ssl_core.supervised  # noqa: F401 - registers the variant
    from ssl_core.training.variants import VARIANTS, variant

    import ast

    package = Path(ssl_core.supervised.__file__).parent / "training"
    for path in package.glob("*.py"):
        if path.name == "variants.py":  # the registry lists the plugin module by name
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Constant) and node.value == "supervised"), path
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                assert not any("supervised" in n for n in names), path
    assert variant({"variant": "supervised"}) is VARIANTS.get("supervised")
    assert variant({"variant": "supervised"}).data is ssl_core.supervised.LabelledData
