"""Which runs get Detectron2 jobs (evaluations.dense.dense_runs, read by workflow/rules/common.smk):
needs no Detectron2."""
from __future__ import annotations

import copy

import pytest

from evaluations.dense import dense_runs
from ssl_core.config import ConfigError, load_config, run_matrix
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def tiny():
    return load_config(ROOT / "config" / "config.yaml")


def _with_dense(config: dict, **select) -> tuple[dict, dict]:
    config = copy.deepcopy(config)
    config["eval"]["dense"].update(select)
    config["experiments"][0]["seeds"] = [0, 1]
    return config, run_matrix(config)


def test_default_is_every_trained_main_run_and_no_floor(tiny):
    runs = run_matrix(tiny)
    picked = dense_runs(tiny, runs)
    assert picked and all(runs[r]["variant"] in ("baseline", "rescued") and "main" in runs[r]["groups"] for r in picked)
    assert {runs[r]["method"] for r in picked} == {e["method"] for e in tiny["experiments"]}
    assert not any("sens" in r for r in picked)  # sweep points never


def test_floor_methods_and_seeds_narrow_and_extend(tiny):
    config, runs = _with_dense(tiny, floor=True, methods=["simclr"], seeds=[1])
    assert dense_runs(config, runs) == ["simclr-resnet_tiny-baseline-seed1", "simclr-resnet_tiny-random_init-seed1",
                                        "simclr-resnet_tiny-rescued-s0.75-k2-seed1"]
    config, runs = _with_dense(tiny, floor=True)
    picked = dense_runs(config, runs)
    floors = [r for r in picked if runs[r]["variant"] == "random_init"]
    # one floor per (method, seed) whose trained runs are picked, never the supervised ceiling
    assert len(floors) == len({(runs[r]["method"], runs[r]["seed"]) for r in picked if r not in floors})
    assert not any(runs[r]["variant"] == "supervised" for r in picked)


def test_archs_narrow_to_those_architectures(tiny):
    config, runs = _with_dense(tiny, floor=True, methods=["simclr", "dinov2"], seeds=[0], archs=["vit_tiny_test"])
    assert dense_runs(config, runs) == ["dinov2-vit_tiny_test-baseline-seed0", "dinov2-vit_tiny_test-random_init-seed0",
                                        "dinov2-vit_tiny_test-rescued-s1-k2-seed0"]


def test_a_family_without_a_schedule_gets_none(tiny):
    config = copy.deepcopy(tiny)
    del config["eval"]["dense"]["vit"]
    runs = run_matrix(config)
    assert {runs[r]["arch"] for r in dense_runs(config, runs)} == {"resnet_tiny"}


def test_the_selection_keys_are_checked(tmp_path):
    import yaml

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["eval"]["dense"]["methods"] = ["simclr", "nosuch"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="nosuch"):
        load_config(tmp_path / "bad.yaml")


def test_small_profile_runs_its_dense_block_with_floors():
    """config/small.yaml: the C4 recipe on the tiny ResNets, floors included, a subset of methods
    and seeds (the budget in docs/profiles.md)."""
    config = load_config(ROOT / "config" / "small.yaml")
    runs = run_matrix(config)
    picked = dense_runs(config, runs)
    dense = config["eval"]["dense"]
    assert dense["floor"] and set(dense) >= {"resnet", "floor", "methods", "seeds"}
    assert sorted({runs[r]["variant"] for r in picked}) == ["baseline", "random_init", "rescued"]
    assert len(picked) == 3 * len(dense["methods"]) * len(dense["seeds"])
    assert config["data"]["dense"]["name"] == "shapes" and config["data"]["dense"]["root"].startswith("results/small/")


def test_small_schedule_reaches_detectron2_unchanged():
    """Every key of the small profile's C4 schedule lands in Detectron2's config (single anchor level
    for C4, the warm-up and step, precise BN, the proposal counts)."""
    pytest.importorskip("detectron2", reason="Detectron2 is not installed (docs/detectron2.md: make detectron2)")
    from detectron2.config import get_cfg

    from evaluations.dense.detectron import _apply_schedule

    sched = load_config(ROOT / "config" / "small.yaml")["eval"]["dense"]["resnet"]["voc"]
    cfg = get_cfg()
    _apply_schedule(cfg, sched, "resnet")
    assert (cfg.SOLVER.MAX_ITER, cfg.SOLVER.STEPS, cfg.SOLVER.WARMUP_ITERS) == (300, (240,), 50)
    assert (cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR, cfg.INPUT.MIN_SIZE_TRAIN) == (8, 0.02, (64,))
    assert cfg.MODEL.ANCHOR_GENERATOR.SIZES == [[16, 32, 64]] and cfg.TEST.PRECISE_BN.NUM_ITER == 10
    assert (cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN, cfg.MODEL.RPN.POST_NMS_TOPK_TEST, cfg.TEST.DETECTIONS_PER_IMAGE) == (50, 20, 5)
