import json

import pytest
import torch

from ssl_core.backbones import load_backbone
from ssl_core.io import load_torch
from ssl_core.methods import StepInfo
from ssl_core.training import build_train_step, pretrain


def make_spec(root, variant="rescued", epochs=2):
    return {
        "run": f"simclr-resnet_tiny-{variant}-seed0", "method": "simclr", "arch": "resnet_tiny",
        "variant": variant, "seed": 0, "k": 4 if variant == "rescued" else None,
        "s": 0.75 if variant == "rescued" else None,
        "recipe": {"image_size": 16, "epochs": epochs, "batch_size": 8, "optimizer": "lars", "base_lr": 0.3,
                   "lr_scaling": "linear", "weight_decay": 1e-6, "warmup_epochs": 1, "temperature": 0.2,
                   "proj_hidden_dim": 16, "proj_out_dim": 8, "min_scale": 0.2, "blur_prob": 0.0},
        "data": {"name": "shapes", "root": str(root), "num_workers": 0},
        "train": {"device": "cpu", "ckpt_every_steps": 3},
    }


def read_metrics(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rescued_run_logs_every_step(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder)
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    records = read_metrics(tmp_path / "out" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(8))  # 32 images / batch 8 x 2 epochs
    for r in records:
        for key in ("loss", "loss_ssl", "loss_topk", "topk_sim", "pair_sim", "emb_std", "lr", "img_per_s"):
            assert key in r and r[key] == r[key]  # present and not NaN
        assert r["loss"] == pytest.approx(r["loss_ssl"] + 0.75 * r["loss_topk"], rel=1e-5)
        assert r["topk_sim"] >= r["pair_sim"]  # the selected pairs are the easiest ones
        assert -1 <= r["loss_topk"] <= 1
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["steps"] == 8 and info["collapse"] is None and info["params"] > 0
    backbone = load_backbone(tmp_path / "out" / "backbone.pt")
    assert backbone(torch.randn(2, 3, 16, 16)).shape == (2, backbone.feature_dim)


def test_rescued_run_with_larger_originals(tiny_folder, tmp_path):
    # recipe original_size: 16 px images kept whole for the strong views of 12 px crops
    spec = make_spec(tiny_folder, epochs=1)
    spec["recipe"] |= {"image_size": 12, "original_size": 16}
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    assert len(read_metrics(tmp_path / "out" / "metrics.jsonl")) == 4


def test_baseline_run_has_no_rescue_terms(tiny_folder, tmp_path):
    assert pretrain(make_spec(tiny_folder, "baseline", epochs=1), tmp_path / "out", tmp_path / "ckpt")
    records = read_metrics(tmp_path / "out" / "metrics.jsonl")
    assert records and all("loss_topk" not in r and r["loss"] == r["loss_ssl"] for r in records)


@pytest.mark.parametrize("variant,augment_on", [("baseline", "device"), ("rescued", "device"), ("rescued", "loader")])
def test_interrupted_run_resumes_to_identical_weights(tiny_folder, tmp_path, variant, augment_on):
    spec = make_spec(tiny_folder, variant)
    spec["data"]["augment_on"] = augment_on
    assert pretrain(spec, tmp_path / "full", tmp_path / "ckpt_full")
    # Stop after 5 steps (checkpoints at steps 3 and 5), then restart: it must resume, not restart.
    assert not pretrain(spec, tmp_path / "split", tmp_path / "ckpt_split", max_steps=5)
    assert load_torch(tmp_path / "ckpt_split" / "last.pt")["step"] == 5
    assert not (tmp_path / "split" / "backbone.pt").exists()
    assert pretrain(spec, tmp_path / "split", tmp_path / "ckpt_split")
    full = load_torch(tmp_path / "full" / "backbone.pt")["state_dict"]
    split = load_torch(tmp_path / "split" / "backbone.pt")["state_dict"]
    assert full.keys() == split.keys()
    for key in full:
        assert torch.equal(full[key], split[key]), key
    drop = lambda rs: [{k: v for k, v in r.items() if k != "img_per_s"} for r in rs]  # noqa: E731
    assert drop(read_metrics(tmp_path / "split" / "metrics.jsonl")) == drop(read_metrics(tmp_path / "full" / "metrics.jsonl"))


def test_nan_loss_is_recorded_as_collapse_not_crash(tiny_folder, tmp_path):
    spec = make_spec(tiny_folder, "baseline", epochs=1)
    spec["recipe"]["base_lr"] = 1e30  # diverges within a step or two
    spec["recipe"]["optimizer"] = "sgd"
    spec["recipe"]["warmup_epochs"] = 0
    assert pretrain(spec, tmp_path / "out", tmp_path / "ckpt")
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["collapse"] in ("nan_loss", "embedding_std")
    assert info["steps"] <= 4


def test_missing_data_names_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere" / "train")):
        pretrain(make_spec(tmp_path / "nowhere"), tmp_path / "out", tmp_path / "ckpt")


def test_collapsed_embedding_is_recorded(tiny_folder, tmp_path, monkeypatch):
    """A run whose embeddings collapse to one point (per-dimension std of the l2-normalised
    embedding ~ 0 instead of ~ 1/sqrt(D)) finishes and is flagged, for the sweeps' grey regions."""
    import ssl_core.training.step as trainer

    monkeypatch.setattr(trainer, "std_of_l2_normalized", lambda z: torch.zeros(()))
    assert pretrain(make_spec(tiny_folder, "baseline", epochs=1), tmp_path / "out", tmp_path / "ckpt")
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["collapse"] == "embedding_std" and info["steps"] == 4
    assert (tmp_path / "out" / "backbone.pt").exists()


def test_loader_workers_and_pinned_memory_come_from_the_config(tiny_folder, tmp_path, monkeypatch):
    """data.num_workers / data.pin_memory reach the DataLoader, and worker processes produce the
    very batches in-process loading does (each item is seeded from (seed, epoch, index))."""
    import ssl_core.training.loop as trainer

    seen = []
    real = trainer.DataLoader

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "DataLoader", spy)
    spec = make_spec(tiny_folder, epochs=1)
    spec["data"].update(num_workers=2, pin_memory=False)
    assert pretrain(spec, tmp_path / "w2", tmp_path / "c2")
    assert seen and all(kw["num_workers"] == 2 and kw["pin_memory"] is False for kw in seen)
    assert pretrain(make_spec(tiny_folder, epochs=1), tmp_path / "w0", tmp_path / "c0")
    two, zero = read_metrics(tmp_path / "w2" / "metrics.jsonl"), read_metrics(tmp_path / "w0" / "metrics.jsonl")
    assert [r["loss"] for r in two] == [r["loss"] for r in zero]


def test_step_logs_leave_the_device_in_one_copy(monkeypatch):
    """The logged scalars of a step are stacked and copied once (one device sync on GPU)."""
    from ssl_core.training.step import to_floats as _to_floats

    calls = []
    real = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: calls.append(1) or real(self))
    monkeypatch.setattr(torch.Tensor, "item", lambda self: pytest.fail("a per-value .item() sync"))
    out = _to_floats({"loss": torch.tensor(1.5), "sim": torch.tensor([0.25]), "momentum": 0.99})
    assert out == {"loss": 1.5, "sim": 0.25, "momentum": 0.99} and len(calls) == 1


def test_resnets_train_channels_last_with_the_same_result():
    """The channels-last layout of a ResNet step changes speed, not values: one rescued SimCLR step
    in each layout from the same weights gives the same loss, rescue logs and updated weights."""
    spec = make_spec("unused")
    torch.manual_seed(0)
    fast = build_train_step(spec, torch.device("cpu"))
    assert fast.memory_format == torch.channels_last
    assert fast.model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    plain = build_train_step(spec, torch.device("cpu"))
    plain.model.to(memory_format=torch.contiguous_format)
    plain.memory_format = torch.contiguous_format
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(2)]
    originals = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g)
    logs = [step(views, originals, StepInfo(0, 10, 5), torch.Generator().manual_seed(1))[0] for step in (fast, plain)]
    assert logs[0].keys() == logs[1].keys() and "loss_topk" in logs[0]
    for key in logs[0]:
        assert logs[0][key] == pytest.approx(logs[1][key], rel=1e-4, abs=1e-5), key
    for a, b in zip(fast.model.state_dict().values(), plain.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_vits_keep_the_default_layout():
    from benchmarks.common import bench_spec, load_profile

    spec = bench_spec(load_profile("tiny"), "mocov3", "vit_tiny_test", "baseline", 8)
    step = build_train_step(spec, torch.device("cpu"))
    assert step.memory_format == torch.contiguous_format


@pytest.mark.parametrize("method", ["simclr", "mocov3"])
def test_random_init_run_is_the_baselines_initial_weights(tiny_folder, tmp_path, method):
    """The floor: a random_init run writes exactly the weights its seed's baseline starts from."""
    from ssl_core.config import load_config, run_matrix

    cfg = load_config("config/config.yaml")
    cfg["data"]["pretrain"]["root"] = str(tiny_folder)
    cfg["experiments"] = [{"method": method, "arch": "resnet_tiny", "variants": ["baseline"], "seeds": [3],
                           "recipe": {"batch_size": 8, "backbone": {}}}]
    runs = run_matrix(cfg)
    floor = runs[f"{method}-resnet_tiny-random_init-seed3"]
    baseline = runs[f"{method}-resnet_tiny-baseline-seed3"]
    assert {k: v for k, v in floor.items() if k not in ("run", "variant")} == \
        {k: v for k, v in baseline.items() if k not in ("run", "variant")}
    assert pretrain(floor, tmp_path / "out", tmp_path / "ckpt")
    assert json.loads((tmp_path / "out" / "run.json").read_text())["steps"] == 0
    torch.manual_seed(3)  # as pretrain() seeds the baseline before building it
    initial = build_train_step(baseline, torch.device("cpu")).model.eval_backbone.state_dict()
    written = load_torch(tmp_path / "out" / "backbone.pt")["state_dict"]
    assert written.keys() == initial.keys() and all(torch.equal(written[k], initial[k]) for k in initial)
    # and not just any weights: another seed starts elsewhere
    torch.manual_seed(4)
    other = build_train_step(baseline, torch.device("cpu")).model.eval_backbone.state_dict()
    assert not all(torch.equal(written[k], other[k]) for k in initial)


def _one_step(spec):
    torch.manual_seed(0)
    step = build_train_step(spec, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(2)]
    originals = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g)
    record, _ = step(views, originals, StepInfo(0, 10, 5), torch.Generator().manual_seed(1))
    return step, record, [p.detach().clone() for p in step.params]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_precision_applies_on_gpu_only(precision):
    """recipe.precision is a GPU setting: on the CPU every value trains in fp32, bit for bit the
    step of a recipe without the key (so the CPU profiles' numbers do not depend on it), with no
    autocast and no gradient scaler."""
    plain = make_spec("unused")
    _, want, want_weights = _one_step(plain)
    spec = make_spec("unused")
    spec["recipe"]["precision"] = precision
    step, got, weights = _one_step(spec)
    assert step.scaler is None and not isinstance(step.autocast, torch.autocast)
    assert got == want
    assert all(torch.equal(a, b) for a, b in zip(weights, want_weights))


def test_precision_of_a_gpu_step():
    """On CUDA the recipe's value picks the autocast dtype and, for fp16, a dynamic gradient
    scaler (moco-v3 / dinov2); fp32 runs without autocast. Built, not run: no GPU needed."""
    from ssl_core.training.step import TrainStep

    from ssl_core.methods.base import Trainable

    model = Trainable()
    model.backbone = torch.nn.Linear(2, 2)  # what TrainStep reads of a method for its memory layout
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cuda = torch.device("cuda")
    steps = {p: TrainStep(model, opt, None, None, cuda, 0.1, p) for p in ("fp32", "bf16")}
    assert not isinstance(steps["fp32"].autocast, torch.autocast)
    assert steps["bf16"].autocast.fast_dtype == torch.bfloat16 and steps["bf16"].scaler is None
    with pytest.raises(ValueError, match="recipe.precision must be one of fp32, bf16, fp16"):
        TrainStep(model, opt, None, None, cuda, 0.1, "fp8")


def test_per_process_batch_over_the_limit_is_refused():
    """The paper recipe's 4096 images on one GPU stop before any step, with the number of processes
    that fits train.max_batch_per_process (no gradient accumulation: docs/scaling.md)."""
    from ssl_core.training.step import check_processes

    spec = make_spec("unused", "baseline")
    spec["recipe"]["batch_size"] = 4096
    spec["train"]["max_batch_per_process"] = 256
    with pytest.raises(ValueError, match=r"4096 images per forward, over train.max_batch_per_process 256: "
                                         r"run it on at least 16 processes"):
        check_processes(spec, 1)
    check_processes(spec, 16)  # 256 per process: fits
    del spec["train"]["max_batch_per_process"]
    check_processes(spec, 1)  # no limit set: the profile's own business
