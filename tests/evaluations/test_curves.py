"""Training curves (evaluations.curves): per method, the logged quantities over steps, seeds and their mean."""
import json

import pandas as pd
import pytest

from evaluations.__main__ import main


def write_run(root, variant, seed, steps=20):
    run = f"simclr-resnet_tiny-{variant}-seed{seed}"
    (root / run).mkdir(parents=True)
    spec = {"run": run, "method": "simclr", "arch": "resnet_tiny", "variant": variant, "seed": seed}
    (root / run / "run.json").write_text(json.dumps({"spec": spec}))
    lines = []
    for step in range(steps):
        record = {"step": step, "epoch": step / 10, "lr": 0.1 * step, "loss": 5.0 - step * 0.1 - seed,
                  "loss_ssl": 5.0 - step * 0.1 - seed, "emb_std": 0.1, "img_per_s": 100.0}
        if variant == "rescued":
            record |= {"loss_topk": -0.9, "topk_sim": 0.9 + seed * 0.02, "pair_sim": 0.5, "strong_sim": 0.3}
        lines.append(json.dumps(record))
    (root / run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return root / run


def test_curves_figure_and_means(tmp_path):
    runs = [write_run(tmp_path, v, s) for v in ("baseline", "rescued") for s in (0, 1)]
    stem = tmp_path / "fig" / "training_curves_simclr"
    assert main(["curves", "--runs", *map(str, runs), "--method", "simclr", "--profile", "tiny",
                 "--figure", str(stem)]) == 0
    assert stem.with_suffix(".pdf").stat().st_size > 0 and stem.with_suffix(".png").stat().st_size > 0
    means = pd.read_csv(stem.with_suffix(".csv"))
    at = means.set_index(["variant", "key", "step"])
    assert at.loc[("baseline", "loss_ssl", 0), "mean"] == pytest.approx(4.5)  # seeds 5.0 and 4.0
    assert at.loc[("rescued", "topk_sim", 3), "mean"] == pytest.approx(0.91) and at.loc[("rescued", "topk_sim", 3), "n"] == 2
    assert ("baseline", "topk_sim", 0) not in at.index  # a baseline has no rescue term
    assert set(means.key) >= {"loss", "loss_ssl", "loss_topk", "topk_sim", "pair_sim", "strong_sim", "emb_std", "lr"}


def test_curves_of_untrained_runs_are_an_error(tmp_path):
    run = write_run(tmp_path, "baseline", 0, steps=0)
    with pytest.raises(ValueError, match="no logged steps"):
        main(["curves", "--runs", str(run), "--method", "simclr", "--profile", "tiny", "--figure", str(tmp_path / "x")])
