import copy

import pytest
import yaml

from ssl_core.config import ConfigError, load_config, run_matrix, validate_config
from tests.conftest import ROOT


@pytest.fixture
def tiny():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "paper.yaml"):
        assert run_matrix(load_config(ROOT / "config" / name))


def test_unknown_key_is_named(tiny):
    tiny["methods"]["simclr"]["recipe"]["epoch"] = 3
    with pytest.raises(ConfigError, match=r"methods\.simclr\.recipe: unknown key\(s\) 'epoch'"):
        validate_config(tiny)


def test_mistyped_value_is_named(tiny):
    tiny["train"]["ckpt_every_steps"] = "often"
    with pytest.raises(ConfigError, match=r"train\.ckpt_every_steps: 'often' is not of type 'integer'"):
        validate_config(tiny)


def test_unknown_top_level_key_and_bad_enum(tiny):
    bad = copy.deepcopy(tiny)
    bad["experiment"] = []
    with pytest.raises(ConfigError, match=r"<top level>: unknown key\(s\) 'experiment'"):
        validate_config(bad)
    tiny["experiments"][0]["variants"] = ["rescue"]
    with pytest.raises(ConfigError, match=r"experiments\.0\.variants\.0"):
        validate_config(tiny)


def test_k_larger_than_batch_is_rejected(tiny):
    tiny["methods"]["simclr"]["rescue"]["k"] = 10_000
    with pytest.raises(ConfigError, match="rescue.k=10000 exceeds recipe.batch_size"):
        run_matrix(validate_config(tiny))


def test_run_matrix_ids_and_specs(tiny):
    tiny["experiments"] = tiny["experiments"][:1]
    tiny["experiments"][0]["seeds"] = [0, 1]
    tiny["methods"]["simclr"]["rescue"] = {"k": 8, "s": 0.75}
    runs = run_matrix(validate_config(tiny))
    assert sorted(runs) == [
        "simclr-resnet_tiny-baseline-seed0", "simclr-resnet_tiny-baseline-seed1",
        "simclr-resnet_tiny-rescued-s0.75-k8-seed0", "simclr-resnet_tiny-rescued-s0.75-k8-seed1",
    ]
    rescued = runs["simclr-resnet_tiny-rescued-s0.75-k8-seed1"]
    assert (rescued["k"], rescued["s"], rescued["seed"]) == (8, 0.75, 1)
    assert runs["simclr-resnet_tiny-baseline-seed0"]["k"] is None


def test_experiment_overrides_recipe(tiny):
    tiny["experiments"][0]["recipe"] = {"epochs": 3}
    spec = next(iter(run_matrix(validate_config(tiny)).values()))
    assert spec["recipe"]["epochs"] == 3
    assert spec["recipe"]["batch_size"] == tiny["methods"]["simclr"]["recipe"]["batch_size"]


def test_paper_config_matches_paper_section_4():
    """Paper Sec. 4: SimCLR ResNet-50, LARS lr 4.8 (= 0.3 x 4096/256), wd 1e-6, N = 4096,
    1000 epochs, 10 warm-up epochs, cosine; k = 128, s = 0.75."""
    from ssl_core.optim import scaled_lr

    runs = run_matrix(load_config(ROOT / "config" / "paper.yaml"))
    spec = runs["simclr-resnet50-rescued-s0.75-k128-seed0"]
    r = spec["recipe"]
    assert (spec["arch"], r["optimizer"], r["batch_size"], r["epochs"], r["warmup_epochs"]) == ("resnet50", "lars", 4096, 1000, 10)
    assert scaled_lr(r["base_lr"], r["batch_size"], r["lr_scaling"]) == pytest.approx(4.8)
    assert r["weight_decay"] == 1e-6
    assert "simclr-resnet50-baseline-seed0" in runs


def test_experiment_override_is_checked_once_merged(tiny):
    tiny["experiments"][0]["recipe"] = {"epochz": 3}
    with pytest.raises(ConfigError, match=r"experiments\.0\.recipe: unknown key\(s\) 'epochz'"):
        validate_config(tiny)
    tiny["experiments"][0]["recipe"] = {"batch_size": 0}
    with pytest.raises(ConfigError, match=r"experiments\.0\.recipe\.batch_size: 0 is less than the minimum of 1"):
        validate_config(tiny)


def test_missing_recipe_key_is_named(tiny):
    del tiny["methods"]["simclr"]["recipe"]["temperature"]
    with pytest.raises(ConfigError, match=r"methods\.simclr\.recipe: 'temperature' is a required property"):
        validate_config(tiny)
