"""Resources that fit their jobs (issue 37 item 4): the FLOP counts of ssl_core.resources against
published figures and the transformer formula, and config/cluster.example.yaml's runtime x the
SLURM profile's retries covering every job kind's estimated wall time."""
from __future__ import annotations

import pytest
import yaml

from ssl_core import resources as R
from ssl_core.config import load_config

from conftest import ROOT


def test_resnet50_and_vit_b_forward_flops_are_the_published_counts():
    # torchvision's model cards: ResNet-50 4.09 and ViT-B/16 17.56 "GFLOPS" (multiply-adds) at 224 px
    assert R.backbone_cost("resnet50", 224).fwd / 2 / 1e9 == pytest.approx(4.09, rel=0.01)
    assert R.backbone_cost("vit_base", 224).fwd / 2 / 1e9 == pytest.approx(17.56, rel=0.01)


def test_vit_large_flops_follow_the_transformer_formula():
    # per block: qkv + projection + 4x MLP = 12 N D^2 multiply-adds, attention 2 N^2 D; N = 196 + 1
    n, d, depth = 197, 1024, 24
    macs = depth * (12 * n * d * d + 2 * n * n * d) + 196 * 3 * 16 * 16 * d  # + the patch projection
    cost = R.backbone_cost("vit_large", 224)
    assert cost.fwd / 2 == pytest.approx(macs, rel=0.01)
    assert cost.fwd_bwd == pytest.approx(3 * cost.fwd, rel=0.02)  # backward: twice the forward


def test_activation_checkpointing_trades_flops_for_memory():
    """ViT-L checkpointed: most of one more forward of the blocks in the backward and the
    blocks' inputs + one block's activations instead of every block's."""
    full = R.backbone_cost("vit_large", 224)
    ckpt = R.backbone_cost("vit_large", 224, (("activation_checkpointing", True),))
    assert ckpt.fwd == full.fwd and ckpt.params == full.params
    # the recomputation stops once the backward has what it needs (torch's non-reentrant early stop)
    assert full.fwd_bwd + full.fwd / 2 < ckpt.fwd_bwd <= full.fwd_bwd + full.fwd
    inputs = 24 * 197 * 1024 * 4  # each block's fp32 input per image
    assert ckpt.saved_bytes == pytest.approx(inputs + full.saved_bytes / 24, rel=0.1)
    assert ckpt.saved_bytes < full.saved_bytes / 8


def test_every_job_kind_fits_the_example_clusters_runtime_and_retries():
    config = load_config(ROOT / "config" / "paper.yaml")
    config.update(yaml.safe_load((ROOT / "config" / "cluster.example.yaml").read_text()))
    retries = yaml.safe_load((ROOT / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())["retries"]
    # CPU seconds per image of the loaders, as measured on the project's 2-core AMD EPYC (docs/scaling.md);
    # measure_decode_seconds() gives this machine's
    decode = {"decode": 0.0017, "probe": 0.0046, "eval": 0.0033, "view": 0.0107}
    rows = R.estimate(config, decode)
    assert {r["kind"] for r in rows} == {"check", "pretrain", "linear", "transfer", "dense"}
    trained = sum(r["jobs"] for r in rows if r["kind"] == "pretrain")
    assert trained == 99  # every trained run of the paper DAG (the 7 floors need no training)
    assert all(r["wall_hours"] > 0 for r in rows if r["kind"] != "check" or r["images"])
    assert R.covered(rows, config, retries) == []
    # the paper's DINOv2 ViT-L fits an 80 GB GPU only with its activation checkpointing (docs/scaling.md)
    assert [line for line in R.over_memory(rows) if "dinov2" in line] == []
    config["methods"]["dinov2"]["recipe"]["backbone"]["activation_checkpointing"] = False
    assert any(line.startswith("pretrain dinov2 vit_large") for line in R.over_memory(R.estimate(config, decode)))
    # a runtime that no longer covers the longest pretraining is named
    config["cluster"]["pretrain"]["runtime"] = 60
    assert any(line.startswith("pretrain simclr resnet50") for line in R.covered(rows, config, retries))
