"""A dense fine-tuning job stopped by SLURM's signal checkpoints the iteration it finished and the
retried job continues from the next one (Detectron2's resume_or_load; issue 37 item 3)."""
from __future__ import annotations

import pytest
import torch

from evaluations.dense.data import write_dense_shapes
from ssl_core.datasets.shapes import generate_shapes
from conftest import StopAt

D2_SKIP = "Detectron2 is not installed (see docs/detectron2.md: make detectron2)"




def test_a_signalled_fine_tuning_resumes_from_the_iteration_it_saved(tmp_path):
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from evaluations.dense.convert import convert_backbone, describe
    from evaluations.dense.detectron import run_dense
    from ssl_core.backbones import build_backbone
    from ssl_core.io import save_torch
    from ssl_core.preemption import Preempted

    generate_shapes(tmp_path / "shapes", n_train=12, n_val=8, image_size=32)
    write_dense_shapes(tmp_path / "shapes", tmp_path / "dense", n_train=10, n_test=8)
    data = {"name": "shapes", "root": str(tmp_path / "dense"), "shapes_root": str(tmp_path / "shapes")}
    sd = build_backbone("resnet_tiny").state_dict()
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": sd}, tmp_path / "backbone.pt")
    convert_backbone(tmp_path / "backbone.pt", tmp_path / "d2.pkl")
    sched = {"max_iter": 6, "steps": [4], "ims_per_batch": 2, "base_lr": 0.01, "warmup_iters": 1,
             "min_size_train": [32], "max_size_train": 32, "min_size_test": 32, "max_size_test": 32,
             "precise_bn_iters": 0, "checkpoint_period": 100}
    args = ("voc", describe("resnet_tiny", {}, sd), sched, data, str(tmp_path / "d2.pkl"))
    out = tmp_path / "cut"
    with pytest.raises(Preempted):
        run_dense(*args, str(out), preemption=StopAt(3))
    assert (out / "last_checkpoint").read_text().strip() == "model_0000002.pth"  # iterations 0-2 done
    assert torch.load(out / "model_0000002.pth", weights_only=False)["iteration"] == 2
    assert not (out / "model_final.pth").exists()
    rows = run_dense(*args, str(out))  # the retried job: iterations 3-5, then the evaluation
    assert torch.load(out / "model_final.pth", weights_only=False)["iteration"] == 5
    assert {r["task"] for r in rows} == {"det_voc"} and len(rows) == 3
