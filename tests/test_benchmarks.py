"""Every benchmark script runs at minimal sizes and prints one JSON line with its keys."""
import json

import pytest

import torch

from benchmarks import dag, data_pipeline, rescue_overhead, standard_loop, step_breakdown, throughput, topk_scope
from ssl_core.backbones import build_backbone
from tests.test_workflow import copy_workflow

COMMON = {"benchmark", "device", "cores", "torch_threads", "torch", "clock"}


def _line(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def test_rescue_overhead(capsys):
    rescue_overhead.main(["--profiles", "tiny", "--tiny-batches", "8", "--repeats", "1"])
    out = _line(capsys)
    assert COMMON <= out.keys() and out["benchmark"] == "rescue_overhead"
    assert {"simclr", "mocov3"} <= set(out["methods"])
    assert {(c["profile"], c["method"]) for c in out["cases"]} >= {("tiny", "simclr"), ("tiny", "mocov3")}
    for case in out["cases"]:
        assert case.keys() >= {"arch", "batch_size", "k", "baseline_step_s", "rescued_step_s", "measured", "ideal",
                               "measured_over_ideal", "extra_forwards", "measured_over_extra_forwards"}
        assert case["extra_forwards"] > 1
        if len(case["views"]) == 2:  # two views of the strong views' size: (2N + k) / 2N
            assert case["ideal"] == pytest.approx((2 * case["batch_size"] + case["k"]) / (2 * case["batch_size"]))
        assert case["baseline_step_s"] > 0 and case["measured_over_ideal"] == pytest.approx(
            case["measured"] / case["ideal"])
    assert out["max_measured_over_ideal"] == max(c["measured_over_ideal"] for c in out["cases"])


def test_throughput(capsys):
    throughput.main(["--arch", "resnet_tiny", "--batch", "8", "--image-size", "16", "--repeats", "1"])
    out = _line(capsys)
    assert COMMON <= out.keys() and [c["method"] for c in out["cases"]] == ["simclr", "mocov3"]
    for case in out["cases"]:
        assert case["ours_memory_format"] == "channels_last"  # a ResNet
        for ref in ("reference", "reference_same_layout"):
            assert case["ours_img_per_s"] > 0 and case[f"{ref}_img_per_s"] > 0
            assert case[f"ours_over_{ref}"] == pytest.approx(case["ours_img_per_s"] / case[f"{ref}_img_per_s"])


def test_data_pipeline(capsys):
    data_pipeline.main(["--n-images", "2", "--image-size", "32", "--source-size", "40", "--rounds", "1"])
    out = _line(capsys)
    assert COMMON <= out.keys() and out["strong_images_per_s_per_worker"] > 0
    assert {"simclr", "mocov3"} <= out["common_images_per_s_per_worker"].keys()
    assert all(v["images_per_s"] > 0 and v["views_per_image"] >= 2 for v in out["common_images_per_s_per_worker"].values())


@pytest.mark.dag_state
def test_dag(capsys, tmp_path):
    # in a copy: the repository's own results/ (e.g. a finished `make reproduce`) leave no jobs
    dag.main(["--configfile", "config/config.yaml", "--repeats", "1", "--directory", str(copy_workflow(tmp_path))])
    out = _line(capsys)
    assert COMMON <= out.keys() and out["best_s"] > 0 and out["jobs"] > 0


def test_step_breakdown(capsys):
    step_breakdown.main(["--profiles", "tiny", "--max-batch", "4", "--repeats", "1"])
    out = _line(capsys)
    assert COMMON <= out.keys() and {c["method"] for c in out["cases"]} >= {"simclr", "mocov3", "dinov2"}
    for case in out["cases"]:
        for path in ("loader", "device"):
            t = case[path]
            assert 0 < t["view_share"] < 1 and t["view_share"] == pytest.approx(
                t["views_s"] / (t["views_s"] + case["model_step_s"]))
        assert case["device_over_loader_steps_per_s"] == pytest.approx(
            case["device"]["steps_per_s"] / case["loader"]["steps_per_s"])
    assert len(out["view_share"]) == len(out["cases"])


def test_topk_scope(capsys):
    # the 2-process cost of one method (2 spawned processes each: the suite's time)
    topk_scope.main(["--max-n", "256", "--draws", "1", "--splits", "2", "--cost-batch", "8", "--repeats", "1",
                     "--cost-methods", "mocov3"])
    out = _line(capsys)
    assert COMMON <= out.keys() and out["features"]["trained"] is False
    rows = {(r["method"], r["processes"]): r for r in out["overlap"]}
    assert rows.keys() == {(m, p) for m in ("simclr", "mocov3", "dinov2") for p in (8, 32)}
    for r in rows.values():  # a per-process selection only where k / P is whole
        assert ("overlap" in r) == (r["k"] % r["processes"] == 0)
        assert 1 <= r["max_on_one_process"] <= r["k"]
    assert 0 < rows["simclr", 8]["overlap"] <= 1 and rows["simclr", 8]["worst_rank"] >= rows["simclr", 8]["k"]
    assert [c["method"] for c in out["cost"]] == ["mocov3"]
    for c in out["cost"]:
        assert c["per_process_step_s"] > 0 and c["global_over_per_process"] == pytest.approx(
            c["global_step_s"] / c["per_process_step_s"])


def test_topk_scope_selections():
    sim = torch.arange(16.0)  # slices of 4: the largest of each vs the 4 largest of all
    assert sorted(topk_scope.per_process_selection(sim, 4, 4).tolist()) == [3, 7, 11, 15]
    out = topk_scope.compare(sim, 4, 1, 1, torch.Generator().manual_seed(0))  # one process: the same pairs
    assert out["overlap"] == 1 and out["worst_rank"] == 4 and out["max_on_one_process"] == 4


def test_standard_loop(capsys):
    standard_loop.main(["--tiny", "--seeds", "0", "1"])
    out = _line(capsys)
    assert COMMON <= out.keys() and out["benchmark"] == "standard_loop" and out["seeds"] == [0, 1]
    assert out["batch_size"] == 16 and out["zero_init_residual"] is False  # the verdict profile's, shrunk
    for row in out["runs"]:
        for side in ("ours", "standard"):
            assert 0 <= row[side]["top1"] <= 100 and row[side]["pretrain_wall_s"] > 0 and row[side]["probe_cpu_s"] > 0
        assert row["difference"] == pytest.approx(row["ours"]["top1"] - row["standard"]["top1"])
    for side in ("ours", "standard", "difference"):
        values = [r[side]["top1"] if side != "difference" else r[side] for r in out["runs"]]
        assert out[side]["n"] == 2 and out[side]["mean"] == pytest.approx(sum(values) / 2)
        assert out[side]["low"] <= out[side]["mean"] <= out[side]["high"]


def test_standard_loop_trains_its_seed(tmp_path):
    config = standard_loop.tiny_config(tmp_path / "shapes")
    spec, = standard_loop.specs(config, "resnet_tiny", [0], tmp_path / "shapes")
    torch.manual_seed(spec["seed"])
    init = build_backbone(spec["arch"]).state_dict()
    a, b = standard_loop.standard_loop(spec).state_dict(), standard_loop.standard_loop(spec).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the seed fixes the run
    assert not torch.equal(a["conv1.weight"], init["conv1.weight"])  # and it trains the backbone
    with pytest.raises(SystemExit, match="no run 'simclr-resnet_tiny-baseline-seed99'"):
        standard_loop.specs(config, "resnet_tiny", [99], None)


def test_standard_loop_takes_ours_from_finished_runs(tmp_path):
    from ssl_core.training import pretrain

    config = standard_loop.tiny_config(tmp_path / "shapes")
    spec, = standard_loop.specs(config, "resnet_tiny", [0], tmp_path / "shapes")
    assert pretrain(spec, tmp_path / "runs" / spec["run"], tmp_path / "ckpt")
    moved = {**spec, "data": {**spec["data"], "root": "elsewhere/shapes"}}  # the data root may differ
    backbone, wall = standard_loop.finished_run(moved, tmp_path / "runs")
    trained = torch.load(tmp_path / "runs" / spec["run"] / "backbone.pt")["state_dict"]
    assert all(torch.equal(v, trained[k]) for k, v in backbone.state_dict().items()) and wall > 0
    other = {**spec, "recipe": {**spec["recipe"], "temperature": 0.1}}
    with pytest.raises(SystemExit, match="not a finished run of the benchmark's spec"):
        standard_loop.finished_run(other, tmp_path / "runs")
    with pytest.raises(SystemExit, match="no finished run"):
        standard_loop.finished_run({**spec, "run": "simclr-resnet_tiny-baseline-seed9"}, tmp_path / "runs")
