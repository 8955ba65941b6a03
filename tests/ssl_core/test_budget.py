"""The compute budget: linear scaling of measured step times to each run's recipe, and the CLI."""
import csv
import io

import pytest
import torch

import ssl_core.budget as budget
from ssl_core.__main__ import main
from ssl_core.config import load_config, run_matrix
from tests.conftest import ROOT


def test_scaling_to_the_recipe(monkeypatch):
    # A fake clock: 0.5 s per common image, 2 s per strong view at the measured batch.
    def fake(spec, device, steps):
        return 0.5 * spec["recipe"]["batch_size"] + 2.0 * (spec["k"] or 0)

    monkeypatch.setattr(budget, "_step_seconds", fake)
    config = load_config(ROOT / "config" / "paper.yaml")
    rows = budget.compute_budget(config, torch.device("cpu"), batch=8)
    runs = run_matrix(config)
    assert [r["run"] for r in rows[:-1]] == list(runs) and rows[-1]["run"] == "total"
    row = next(r for r in rows if r["run"] == "simclr-resnet50-rescued-s0.75-k128-seed0")
    steps = 1000 * (1_281_167 // 4096)
    assert row["total_steps"] == steps
    assert row["hours"] == pytest.approx(steps * (4096 * 0.5 + 128 * 2.0) / 3600)
    assert rows[-1]["hours"] == pytest.approx(sum(r["hours"] for r in rows[:-1]))
    assert "not GPU time" in rows[-1]["device"]


def test_cli_measures_every_run(tmp_path, tiny_folder):
    cfg = tmp_path / "c.yaml"
    text = (ROOT / "config" / "config.yaml").read_text()
    import yaml

    config = yaml.safe_load(text)
    config["experiments"] = config["experiments"][:1]
    config["sweeps"] = []
    config["references"] = {"random_init": True}  # the floor: no step, no cost; no supervised ceiling
    k = config["methods"]["simclr"]["rescue"]["k"]
    config["methods"]["simclr"]["recipe"].update(image_size=16, proj_hidden_dim=16)
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "budget.csv"
    assert main(["budget", "--configfile", str(cfg), "--batch", "4", "--steps", "1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["run"] for r in rows] == ["simclr-resnet_tiny-baseline-seed0", f"simclr-resnet_tiny-rescued-s0.75-k{k}-seed0",
                                        "simclr-resnet_tiny-random_init-seed0", "total"]
    assert all(float(r["hours"]) > 0 for r in rows[:2]) and float(rows[2]["hours"]) == 0
    assert float(rows[3]["hours"]) == pytest.approx(float(rows[0]["hours"]) + float(rows[1]["hours"]))
    assert float(rows[1]["s_per_strong_view"]) >= 0 and rows[0]["device"].startswith("cpu")


def test_originals_follow_the_recipes_original_size():
    """The loader's originals (the trainer's and this module's transforms) are original_size px,
    the views image_size px; without the key the originals are at the crop side."""
    from ssl_core.budget import synthetic_batch
    from tests.ssl_core.test_trainer import make_spec

    spec = make_spec("unused", "rescued")
    spec["recipe"]["batch_size"] = 2
    views, originals = synthetic_batch(spec, source_size=40)
    assert originals.shape == (2, 3, 16, 16) and views[0].shape[-1] == 16
    spec["recipe"]["original_size"] = 20
    views, originals = synthetic_batch(spec, source_size=40)
    assert originals.shape == (2, 3, 20, 20) and views[0].shape[-1] == 16
