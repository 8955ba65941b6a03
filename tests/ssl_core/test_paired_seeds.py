"""Paired seeds: a baseline and a rescued run of one seed start from the same weights
and see the same first batch of common views; only the rescue term differs. Observed inside the
trainer's own loop (``pretrain``), at its first optimisation step."""
from __future__ import annotations

import torch

from ssl_core import training as trainer
from tests.ssl_core.test_trainer import make_spec


def first_step(spec, tmp_path, monkeypatch) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """The model's weights and the batch (views, originals) as ``pretrain`` hands them to its first
    training step."""
    seen = {}
    call = trainer.TrainStep.__call__

    def spy(self, views, originals, info, strong_rng=None):
        if not seen:
            seen["weights"] = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            seen["views"], seen["originals"] = [v.clone() for v in views], originals.clone()
        return call(self, views, originals, info, strong_rng)

    monkeypatch.setattr(trainer.TrainStep, "__call__", spy)
    out = tmp_path / f"{spec['variant']}-{spec['seed']}"
    trainer.pretrain(spec, out, out / "ckpt", max_steps=1)
    return seen["weights"], seen["views"], seen["originals"]


def _spec(root, variant, seed):
    return {**make_spec(root, variant, epochs=1), "seed": seed}


def test_baseline_and_rescued_of_a_seed_start_alike(tiny_folder, tmp_path, monkeypatch):
    base_w, base_views, base_orig = first_step(_spec(tiny_folder, "baseline", 0), tmp_path, monkeypatch)
    resc_w, resc_views, resc_orig = first_step(_spec(tiny_folder, "rescued", 0), tmp_path, monkeypatch)
    assert base_w.keys() == resc_w.keys() and base_w
    for key in base_w:
        assert torch.equal(base_w[key], resc_w[key]), key
    assert [v.shape[0] for v in base_views] == [8, 8] and len(resc_views) == 2  # the whole first batch
    for a, b in zip(base_views, resc_views):
        assert torch.equal(a, b)
    assert torch.equal(base_orig, resc_orig)


def test_another_seed_starts_elsewhere(tiny_folder, tmp_path, monkeypatch):
    """The check above can fail: a different seed gives other weights and other views."""
    w0, views0, _ = first_step(_spec(tiny_folder, "baseline", 0), tmp_path, monkeypatch)
    w1, views1, _ = first_step(_spec(tiny_folder, "rescued", 1), tmp_path, monkeypatch)
    assert any(not torch.equal(w0[k], w1[k]) for k in w0 if w0[k].is_floating_point())
    assert not torch.equal(views0[0], views1[0])

