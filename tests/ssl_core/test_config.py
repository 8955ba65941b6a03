import copy
import json

import pytest
import yaml

from ssl_core.config import ConfigError, load_config, run_matrix, sweep_runs, training_spec, validate_config
from tests.conftest import ROOT


@pytest.fixture
def tiny():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "small.yaml", "cifar.yaml", "verdict.yaml", "paper.yaml"):
        assert run_matrix(load_config(ROOT / "config" / name))


def test_unknown_key_is_named(tiny):
    tiny["methods"]["simclr"]["recipe"]["epoch"] = 3
    with pytest.raises(ConfigError, match=r"methods\.simclr\.recipe: unknown key\(s\) 'epoch'"):
        validate_config(tiny)


@pytest.mark.parametrize("method", ["mocov3", "byol"])
def test_shared_recipe_keys_are_checked_once(tiny, method):
    """min_scale / blur_probs come from $defs/asymmetric_views (the recipe schema's allOf): a bad or
    missing one is named, unknown keys list them as allowed, and a bad value in an allOf part
    (recipe_common's epochs too) is one error, not also every key reported as unknown."""
    recipe = tiny["methods"][method]["recipe"]
    for key, value, message in [("blur_probs", [1.0], r"blur_probs: \[1\.0\] is too short"),
                                ("min_scale", 2, r"min_scale: 2 is greater than the maximum of 1"),
                                ("epochs", 0, r"epochs: 0 is less than the minimum of 1")]:
        bad = copy.deepcopy(tiny)
        bad["methods"][method]["recipe"][key] = value
        with pytest.raises(ConfigError, match=message) as error:
            validate_config(bad)
        assert "unknown key" not in str(error.value) and error.value.keys == [f"methods.{method}.recipe.{key}"]
    del recipe["min_scale"]
    with pytest.raises(ConfigError, match=rf"methods\.{method}\.recipe: 'min_scale' is a required property"):
        validate_config(copy.deepcopy(tiny))
    recipe["min_scale"], recipe["min_scal"] = 0.2, 0.2
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'min_scal'; allowed: .*blur_probs.*min_scale"):
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
    tiny.pop("sweeps", None)
    tiny.pop("references", None)  # floors and ceilings: test_reference_runs_per_experiment_and_arch
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


def test_reference_runs_per_experiment_and_arch(tiny):
    """random_init per (method, arch, seed) with the baseline's spec; supervised once per arch."""
    tiny["experiments"][0]["seeds"] = [0, 1]
    tiny["references"] = {"random_init": True, "supervised": {
        "epochs": 2, "batch_size": 32, "optimizer": "adamw", "base_lr": 1e-3, "weight_decay": 0.0,
        "warmup_epochs": 0, "min_scale": 0.5, "image_size": 32}}
    runs = run_matrix(validate_config(tiny))
    archs = {e["arch"] for e in tiny["experiments"]}
    floors = {(r["method"], r["arch"], r["seed"]) for r in runs.values() if r["variant"] == "random_init"}
    assert floors == {(e["method"], e["arch"], s) for e in tiny["experiments"] for s in e["seeds"]}
    assert runs["simclr-resnet_tiny-random_init-seed1"]["recipe"] == runs["simclr-resnet_tiny-baseline-seed1"]["recipe"]
    ceilings = [r for r in runs.values() if r["variant"] == "supervised"]
    assert sorted(r["run"] for r in ceilings) == sorted(f"supervised-{a}-seed0" for a in archs)
    assert all(r["method"] == "supervised" and r["recipe"]["epochs"] == 2 for r in ceilings)
    tiny["references"] = {"random_init": False}
    assert {r["variant"] for r in run_matrix(validate_config(tiny)).values()} <= {"baseline", "rescued"}


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


def test_paper_config_lists_every_fig2_run_with_section_4_hyperparameters():
    """Paper Sec. 4, read back from config/paper.yaml: the main runs of Fig. 2 (5 model families
    x baseline/rescued; DINOv2 "three times with different seeds") and their recipes."""
    from ssl_core.optim import scaled_lr

    runs = {r: spec for r, spec in run_matrix(load_config(ROOT / "config" / "paper.yaml")).items() if "main" in spec["groups"]}
    families = {("simclr", "resnet50"), ("mocov3", "resnet50"), ("mocov3", "vit_small"), ("mocov3", "vit_base"),
                ("dinov2", "vit_large")}
    seeds = {("dinov2", "vit_large"): (0, 1, 2)}
    assert {(r["method"], r["arch"], r["variant"], r["seed"]) for r in runs.values()} == \
        {(m, a, v, seed) for m, a in families for v in ("baseline", "rescued", "random_init")
         for seed in seeds.get((m, a), (0,))}
    assert len(runs) == 21  # 14 trained runs and the floor of each (method, arch, seed); no supervised ceiling

    def lr(r):
        return scaled_lr(r["base_lr"], r["batch_size"], r["lr_scaling"], r.get("lr_ref_batch", 256))

    for spec in runs.values():
        r, key = spec["recipe"], (spec["method"], spec["arch"])
        if spec["variant"] == "rescued":  # "Hyperparameters": SimCLR 128/0.75, MoCo v3 64/0.05, DINOv2 16/1
            assert (spec["k"], spec["s"]) == {"simclr": (128, 0.75), "mocov3": (64, 0.05), "dinov2": (16, 1)}[spec["method"]]
        if key in {("simclr", "resnet50"), ("mocov3", "resnet50")}:  # LARS 4.8, wd 1e-6, N 4096, warm-up 10
            assert (r["optimizer"], r["batch_size"], r["weight_decay"], r["warmup_epochs"]) == ("lars", 4096, 1e-6, 10)
            assert lr(r) == pytest.approx(4.8)
            assert r["epochs"] == (1000 if spec["method"] == "simclr" else 800)
        elif spec["method"] == "mocov3":  # ViT-S/B: AdamW lr 0.0024, wd 0.1, N 4096, 300 epochs
            assert (r["optimizer"], r["batch_size"], r["weight_decay"], r["epochs"]) == ("adamw", 4096, 0.1, 300)
            assert lr(r) == pytest.approx(0.0024)
            assert r["backbone"]["stop_grad_patch_embed"] is True
        else:  # DINOv2 ViT-L/16: N 2048, 100 epochs = 12500 iterations, lr 0.004 sqrt-scaled, wd 0.04
            assert r["backbone"]["patch_size"] == 16 and r["batch_size"] == 2048
            assert r["epochs"] == 100 and r["epochs"] * r["epoch_length"] == 12500
            assert (r["base_lr"], r["lr_scaling"], r["weight_decay"]) == (0.004, "sqrt", 0.04)


def test_sweeps_expand_to_tagged_runs_sharing_their_centre(tiny):
    tiny["experiments"] = tiny["experiments"][:1]
    tiny.pop("references", None)
    tiny["sweeps"] = [{"name": "sens", "method": "simclr", "arch": "resnet_tiny", "seeds": [0, 1],
                       "recipe": {"epochs": 1}, "s": {"values": [0.5, 1.0], "k": 4},
                       "k": {"values": [4, 8], "s": 1.0}}]
    config = validate_config(tiny)
    sweep = config["sweeps"][0]
    s_part, k_part = sweep_runs(config, sweep, "s"), sweep_runs(config, sweep, "k")
    assert sorted(r for r in s_part if "rescued" in r) == [
        "simclr-resnet_tiny-sens-rescued-s0.5-k4-seed0", "simclr-resnet_tiny-sens-rescued-s0.5-k4-seed1",
        "simclr-resnet_tiny-sens-rescued-s1-k4-seed0", "simclr-resnet_tiny-sens-rescued-s1-k4-seed1"]
    assert set(s_part) & set(k_part) == {  # the centre (s=1, k=4) and the baselines are shared
        "simclr-resnet_tiny-sens-rescued-s1-k4-seed0", "simclr-resnet_tiny-sens-rescued-s1-k4-seed1",
        "simclr-resnet_tiny-sens-baseline-seed0", "simclr-resnet_tiny-sens-baseline-seed1"}
    runs = run_matrix(config)
    assert all(runs[r]["recipe"]["epochs"] == 1 and runs[r]["groups"] == ["sens"] for r in s_part)
    main = [r for r in runs.values() if r["groups"] == ["main"]]
    assert main and all(r["recipe"]["epochs"] == tiny["methods"][r["method"]]["recipe"]["epochs"] for r in main)
    assert len(runs) == len(main) + 2 * (1 + 3)
    tiny["sweeps"][0]["recipe"] = {"epohcs": 1}
    with pytest.raises(ConfigError, match=r"sweeps\.0\.recipe: unknown key\(s\) 'epohcs'"):
        validate_config(tiny)


def test_a_sweep_point_equal_to_a_main_run_is_that_run(tiny):
    """Same recipe as the main experiment: the sweep's runs carry no tag, and the points equal to
    a main run (its baseline, its rescued s and k) are one run, used by both groups."""
    tiny["experiments"] = tiny["experiments"][:1]  # simclr resnet_tiny, baseline + rescued (k 4, s 0.75), seed 0
    tiny.pop("references", None)  # no floor or ceiling runs: the sweep's runs only
    tiny["methods"]["simclr"]["rescue"] = {"k": 4, "s": 0.75}
    tiny["sweeps"] = [{"name": "sens", "method": "simclr", "arch": "resnet_tiny", "seeds": [0, 1],
                       "s": {"values": [0.25, 0.75], "k": 4}, "k": {"values": [4, 8], "s": 0.75}}]
    config = validate_config(tiny)
    runs = run_matrix(config)
    shared = {"simclr-resnet_tiny-baseline-seed0", "simclr-resnet_tiny-rescued-s0.75-k4-seed0"}
    assert {r for r, spec in runs.items() if spec["groups"] == ["main", "sens"]} == shared
    assert len(runs) == 2 * (1 + 3)  # per seed: the baseline and 3 rescue points; seed 0 has the main runs
    assert set(sweep_runs(config, config["sweeps"][0])) == {r for r, spec in runs.items() if "sens" in spec["groups"]}
    assert all("groups" not in training_spec(spec) and training_spec(spec)["run"] == r for r, spec in runs.items())
    # s: 1 (an int, as YAML reads it) and s: 1.0 are one spec
    tiny["methods"]["simclr"]["rescue"] = {"k": 4, "s": 1}
    tiny["sweeps"][0]["k"]["s"] = 1.0
    runs = run_matrix(validate_config(tiny))
    assert runs["simclr-resnet_tiny-rescued-s1-k4-seed0"]["groups"] == ["main", "sens"]
    # another recipe: the sweep's own, tagged runs
    tiny["sweeps"][0]["recipe"] = {"epochs": 1}
    runs = run_matrix(validate_config(tiny))
    assert all(spec["groups"] == (["sens"] if "-sens-" in r else ["main"]) for r, spec in runs.items())
    assert len(runs) == 2 + 2 * (1 + 4)  # the k-sweep at s = 1 no longer meets the s-sweep at s = 0.75


def test_paper_sweeps_reuse_the_main_runs_they_equal():
    """config/paper.yaml: the MoCo v3 ViT-S and the DINOv2 sweeps share the main recipes, so their
    points equal to a main run are trained once (the SimCLR sweep runs 100 epochs: its own runs)."""
    runs = run_matrix(load_config(ROOT / "config" / "paper.yaml"))
    shared = sorted(r for r, spec in runs.items() if len(spec["groups"]) > 1)
    assert shared == [*(f"dinov2-vit_large-{v}-seed{seed}" for v in ("baseline", "rescued-s1-k16") for seed in range(3)),
                      "mocov3-vit_small-baseline-seed0", "mocov3-vit_small-rescued-s0.05-k64-seed0"]
    # 99 trained runs and the random-init floor of each of the 7 main (method, arch, seed)
    assert sum(spec["variant"] == "random_init" for spec in runs.values()) == 7
    assert len(runs) == 106 and len({json.dumps(training_spec(s), sort_keys=True) for s in runs.values()}) == 106
    assert not any("-sens-" in r for r, spec in runs.items() if spec["method"] != "simclr")


def test_conflicting_specs_of_one_run_and_a_sweep_named_main_are_rejected(tiny):
    tiny["experiments"].append({**tiny["experiments"][0], "recipe": {"epochs": 1}})
    with pytest.raises(ConfigError, match=r"run simclr-resnet_tiny-baseline-seed0 is defined twice with different recipe"):
        run_matrix(validate_config(tiny))
    tiny["experiments"].pop()
    tiny["sweeps"][0]["name"] = "main"
    with pytest.raises(ConfigError, match=r"sweeps\.0\.name: 'main' is the group of the main experiments"):
        validate_config(tiny)


def test_a_dense_family_is_either_scheduled_or_left_out(tiny):
    tiny["eval"]["dense"]["left_out"] = {"vit": "ViTDet does not separate"}
    with pytest.raises(ConfigError, match=r"eval\.dense\.left_out\.vit: the family has a schedule"):
        validate_config(tiny)
    del tiny["eval"]["dense"]["vit"]
    assert validate_config(tiny)["eval"]["dense"]["left_out"] == {"vit": "ViTDet does not separate"}
    tiny["eval"]["dense"]["left_out"] = {"vit": ""}
    with pytest.raises(ConfigError, match=r"eval\.dense\.left_out\.vit"):
        validate_config(tiny)


def test_an_ablation_group_gets_its_own_runs_and_shares_the_floor(tiny):
    cfg = copy.deepcopy(tiny)
    cfg["references"] = {"random_init": [0]}
    cfg["experiments"] = [
        {"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline", "rescued"], "seeds": [0, 1]},
        {"method": "simclr", "arch": "resnet_tiny", "variants": ["rescued"], "seeds": [0], "group": "bn_ablation",
         "rescue": {"k": 2, "s": 0.75, "bn": "own_batch"}},
    ]
    runs = run_matrix(validate_config(cfg))
    s = cfg["methods"]["simclr"]["rescue"]["s"]
    main, ablation = f"simclr-resnet_tiny-rescued-s{s:g}-k2-seed0", f"simclr-resnet_tiny-rescued-s0.75-k2-own_batch-seed0"
    # the rule's non-default value is part of the id: both rescued runs of seed 0 exist, each with its rule
    assert runs[main]["rescue"]["bn"] == "common" and runs[main]["groups"] == ["main"]
    assert runs[ablation]["rescue"]["bn"] == "own_batch" and runs[ablation]["groups"] == ["bn_ablation"]
    # random_init as a list: one floor (seed 0), shared, not one per seed or per group
    floors = sorted(r for r, spec in runs.items() if spec["variant"] == "random_init")
    assert floors == ["simclr-resnet_tiny-random_init-seed0"]
    cfg["experiments"][1]["group"] = "Bad Name"
    with pytest.raises(ConfigError, match="group"):
        validate_config(cfg)


def test_the_schemas_architectures_are_the_backbones():
    """$defs/arch (the experiments', sweeps' and eval.dense.archs' names) lists exactly the registry's."""
    import yaml

    from ssl_core.backbones import BACKBONES
    from ssl_core.config import SCHEMA_PATH

    assert set(yaml.safe_load(SCHEMA_PATH.read_text())["$defs"]["arch"]["enum"]) == set(BACKBONES.names())


def test_views_method_names_a_method_of_the_config(tiny):
    """eval.views_method (Fig. 3's views, the cosine study's encoder) is required and must be one of
    the config's methods: the error names the key and the methods it may be."""
    assert validate_config(tiny)["eval"]["views_method"] in tiny["methods"]
    other = copy.deepcopy(tiny)
    other["eval"]["views_method"] = "mocov3"
    assert validate_config(other)["eval"]["views_method"] == "mocov3"
    other["eval"]["views_method"] = "swav"
    with pytest.raises(ConfigError, match=r"eval.views_method: 'swav' has no recipe under methods \(one of simclr"):
        validate_config(other)
    del other["eval"]["views_method"]
    with pytest.raises(ConfigError, match="views_method"):
        validate_config(other)
