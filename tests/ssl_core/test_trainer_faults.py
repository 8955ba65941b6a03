"""What a user meets when a run is forced, edited, damaged or resumed (issue 23, faults 1-4 and 6):
nothing finished is lost or misreported, and the log says what happened."""
import json

import pytest
import torch

from ssl_core.datasets.check import CorruptImagesError
from ssl_core.io import load_torch
from ssl_core.training import pretrain

from test_trainer import make_spec, read_metrics


def run_json(out):
    return json.loads((out / "run.json").read_text())


def wide_baseline(root):
    """A baseline whose healthy embedding std (~ 1/sqrt(256) = 0.06) is under 0.1: the collapse
    test with a width of 1 (no step run) would call it collapsed."""
    spec = make_spec(root, "baseline", epochs=1)
    spec["recipe"]["proj_out_dim"] = 256
    return spec


def test_forcing_a_finished_run_keeps_its_verdict(tiny_folder, tmp_path, capsys):
    spec = wide_baseline(tiny_folder)
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    first = run_json(tmp_path / "out")
    assert first["collapse"] is None and 0 < first["final"]["emb_std"] < 0.1
    for name in ("backbone.pt", "run.json", "metrics.jsonl"):  # what `snakemake -f` deletes
        (tmp_path / "out" / name).unlink()
    capsys.readouterr()
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")  # nothing left to train
    again = run_json(tmp_path / "out")
    assert again["collapse"] is None and again["steps"] == first["steps"] == 4
    assert again["final"] == first["final"]
    assert "resuming from step 4 of 4" in capsys.readouterr().err


def test_forcing_a_collapsed_run_keeps_it_collapsed(tiny_folder, tmp_path, monkeypatch):
    import ssl_core.training.step as trainer

    spec = wide_baseline(tiny_folder)
    with monkeypatch.context() as m:
        m.setattr(trainer, "std_of_l2_normalized", lambda z: torch.zeros(()))
        assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    assert run_json(tmp_path / "out")["collapse"] == "embedding_std"
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    assert run_json(tmp_path / "out")["collapse"] == "embedding_std"


def test_an_edited_recipe_value_restarts_the_run_and_sets_the_old_checkpoint_aside(tiny_folder, tmp_path, capsys):
    spec = make_spec(tiny_folder, "baseline", epochs=1)
    assert not pretrain(spec, tmp_path / "out", tmp_path / "ckpt", max_steps=3)
    spec["recipe"]["temperature"] = 0.4
    capsys.readouterr()
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    err = capsys.readouterr().err
    assert "different run spec (changed: recipe.temperature)" in err and "starting the run afresh" in err
    assert (tmp_path / "ckpt" / "last.pt.other-spec").exists()  # set aside, not deleted
    assert load_torch(tmp_path / "ckpt" / "last.pt")["spec"] == spec
    info = run_json(tmp_path / "out")
    assert info["steps"] == 4 and info["spec"]["recipe"]["temperature"] == 0.4
    assert [r["step"] for r in read_metrics(tmp_path / "out" / "metrics.jsonl")] == [0, 1, 2, 3]
    # Uninterrupted with the new value: the same weights (the old state was not resumed).
    assert pretrain(spec, tmp_path / "fresh", tmp_path / "ckpt_fresh")
    a, b = (load_torch(tmp_path / d / "backbone.pt")["state_dict"] for d in ("out", "fresh"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_damaged_checkpoint_falls_back_to_the_previous_one(tiny_folder, tmp_path, capsys):
    spec = make_spec(tiny_folder, "baseline", epochs=2)  # 8 steps, checkpoints every 3
    assert pretrain(spec, tmp_path / "full", tmp_path / "ckpt_full")
    assert not pretrain(spec, tmp_path / "out", tmp_path / "ckpt", max_steps=5)  # checkpoints at 3 and 5
    assert load_torch(tmp_path / "ckpt" / "previous.pt")["step"] == 3
    cut_in_half(tmp_path / "ckpt" / "last.pt")
    capsys.readouterr()
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    err = capsys.readouterr().err
    assert f"{tmp_path / 'ckpt' / 'last.pt'} cannot be read" in err and "resuming from previous.pt" in err
    assert "resuming from step 3 of 8" in err
    assert (tmp_path / "ckpt" / "last.pt.damaged").exists()
    a, b = (load_torch(tmp_path / d / "backbone.pt")["state_dict"] for d in ("out", "full"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_damaged_checkpoints_restart_the_run(tiny_folder, tmp_path, capsys):
    spec = make_spec(tiny_folder, "baseline", epochs=2)
    assert not pretrain(spec, tmp_path / "out", tmp_path / "ckpt", max_steps=7)  # checkpoints at 6 and 7
    for name in ("last.pt", "previous.pt"):
        cut_in_half(tmp_path / "ckpt" / name)
    capsys.readouterr()
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    err = capsys.readouterr().err
    assert "previous.pt cannot be read" in err and "starting the run afresh" in err
    assert run_json(tmp_path / "out")["steps"] == 8
    assert [r["step"] for r in read_metrics(tmp_path / "out" / "metrics.jsonl")] == list(range(8))


def damage_an_image(root):
    victim = sorted((root / "train" / "class0").iterdir())[0]
    cut_in_half(victim)
    return victim


def test_an_image_damaged_after_the_check_is_named_before_any_step(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder, "baseline", epochs=1)
    assert not pretrain(spec, tmp_path / "out", tmp_path / "ckpt", max_steps=2)
    victim = damage_an_image(tiny_folder)
    with pytest.raises(CorruptImagesError, match=str(victim)):
        pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    assert load_torch(tmp_path / "ckpt" / "last.pt")["step"] == 2  # the checkpoint is kept
    assert [r["step"] for r in read_metrics(tmp_path / "ckpt" / "metrics.jsonl")] == [0, 1]


def test_a_fresh_run_names_a_damaged_image(tiny_folder, tmp_path):
    victim = damage_an_image(tiny_folder)
    with pytest.raises(CorruptImagesError, match=str(victim)):
        pretrain(make_spec(tiny_folder, "baseline", epochs=1), tmp_path / "out", tmp_path / "ckpt")


def test_a_finished_run_is_rewritten_without_reading_images(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder, "baseline", epochs=1)
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    damage_an_image(tiny_folder)
    (tmp_path / "out" / "backbone.pt").unlink()
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    assert (tmp_path / "out" / "backbone.pt").exists()
