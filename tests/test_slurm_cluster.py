"""The SLURM profile on a real SLURM: every job of a small DAG submitted through
snakemake-executor-plugin-slurm (workflow/profiles/slurm) to the two-node cluster that
scripts/slurm-local.sh runs on this machine (slurm-wlm, slurmdbd, fake GPUs through GRES).

Started by ``make test-slurm``; without a running cluster every test here skips with the reason
(``scripts/slurm-local.sh start`` writes it to .slurm-local/unavailable when it cannot start).
What this cluster cannot show (real GPUs, NCCL, a site's partitions and accounts) is checked on the
fake ``sbatch`` of tests/test_slurm.py; docs/scaling.md says which is which."""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
import yaml

from ssl_core.config import load_config, run_matrix, training_spec
from ssl_core.io import load_torch
from tests.test_workflow import BIN, ROOT, copy_workflow, workflow_env

SCRIPT = ROOT / "scripts" / "slurm-local.sh"
STATE = Path(os.environ.get("SLURM_LOCAL_DIR", ROOT / ".slurm-local"))
RUN = "simclr-resnet_tiny-baseline-seed0"
CLUSTER = {  # what config/cluster.example.yaml says for a site, scaled to this machine
    "account": "acc1", "partition": "gpu",
    "pretrain": {"nodes": 2, "gpus_per_node": 1, "cpus_per_task": 1, "mem_mb": 1000, "runtime": 10},
    "evaluate": {"gpus_per_node": 1, "cpus_per_task": 1, "mem_mb": 1000, "runtime": 10},
    "report": {"partition": "cpu", "cpus_per_task": 1, "mem_mb": 1000, "runtime": 10},
}


@pytest.fixture(scope="module")
def slurm() -> dict[str, str]:
    """The environment of SLURM's client commands, or a skip saying why there is no cluster."""
    env = {**os.environ, "SLURM_LOCAL_DIR": str(STATE), "SLURM_CONF": str(STATE / "etc" / "slurm.conf"),
           "PATH": os.environ["PATH"] + os.pathsep + "/usr/sbin"}
    status = subprocess.run(["bash", str(SCRIPT), "status"], env=env, capture_output=True, text=True)
    if status.returncode != 0:
        reason = STATE / "unavailable"
        pytest.skip("no local SLURM: " + (reason.read_text().strip() if reason.exists() else
                                          "not started (make test-slurm starts it: scripts/slurm-local.sh start)"))
    return env


def workflow(tmp: Path, cluster: dict | None = None, recipe: dict | None = None, ckpt_every: int = 4) -> Path:
    """A copy of the workflow whose config is the tiny profile cut to one run (SimCLR, tiny ResNet,
    baseline, seed 0) on 256 images, with the `cluster` section above (``cluster``: per-kind changes)."""
    wf = copy_workflow(tmp)
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["data"]["shapes"].update(n_train=256, n_val=64)
    cfg["train"]["ckpt_every_steps"] = ckpt_every
    # 4 steps (1 epoch of 256 images at 64) in warm-up, at a tenth of the tiny profile's rate
    # (base_lr 0.3, as the trainer's N processes == 1 process test): the rounding differences of 2
    # processes against 1 grow with the step size (measured on this profile's recipe: 4e-3 in the
    # BatchNorm weights after 4 steps at the profile's lr, 0.04 after 8)
    cfg["methods"]["simclr"]["recipe"].update({"epochs": 1, "batch_size": 64, "warmup_epochs": 1, "base_lr": 0.3,
                                               **(recipe or {})})
    cfg["experiments"] = [{"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline"], "seeds": [0]}]
    cfg["sweeps"] = []
    cfg["eval"]["linear"]["epochs"] = 2
    cfg["cluster"] = json.loads(json.dumps(CLUSTER))
    for kind, changes in (cluster or {}).items():
        cfg["cluster"][kind].update(changes)
    (wf / "cluster.yaml").write_text(yaml.safe_dump(cfg))
    return wf


def submit(wf: Path, env: dict[str, str], *targets: str, options: tuple[str, ...] = (),
           timeout: int = 600) -> subprocess.CompletedProcess:
    """Snakemake with the project's SLURM profile: every job an sbatch job of the cluster."""
    proc = subprocess.run(
        [f"{BIN}/snakemake", *targets, "--workflow-profile", "workflow/profiles/slurm", "--configfile", "cluster.yaml",
         "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2", "--latency-wait", "5",
         *options],
        cwd=wf, env=workflow_env(env), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def jobs_since(start: str, env: dict[str, str]) -> list[dict[str, str]]:
    """The cluster's jobs (allocations, not steps) since ``start``, as sacct (slurmdbd) records them."""
    out = subprocess.run(["sacct", "-X", "-a", "--parsable2", "--noheader", "-S", start,
                          "--format=JobIDRaw,State,NodeList,NNodes,Comment,AllocTRES"],
                         env=env, capture_output=True, text=True, check=True).stdout
    keys = ("id", "state", "nodes", "nnodes", "comment", "tres")
    return [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line]


def one_process_run(wf: Path, name: str, env: dict[str, str], *extra: str) -> subprocess.Popen:
    """The DAG's run spec trained by 1 plain process outside SLURM (the reference), in folder ``name``."""
    spec = training_spec(run_matrix(load_config(wf / "cluster.yaml"))[RUN])
    return subprocess.Popen([f"{BIN}/python", "-m", "ssl_core", "pretrain", "--spec", json.dumps(spec),
                             "--out", name, "--ckpt", f"{name}-ckpt", "--threads", "1", *extra],
                            cwd=wf, env=workflow_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def assert_same_weights(a: Path, b: Path, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    wa, wb = load_torch(a)["state_dict"], load_torch(b)["state_dict"]
    assert wa.keys() == wb.keys()
    for key in wa:  # same gradients every step => same weights (up to float summation order)
        torch.testing.assert_close(wb[key], wa[key], rtol=rtol, atol=atol, msg=key)


def losses(folder: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "metrics.jsonl").read_text().splitlines()]


def sacct_start() -> str:
    time.sleep(1)  # sacct's -S has whole seconds
    return datetime.now().strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def dag(slurm, tmp_path_factory):
    """The data, its check, a 2-node pretraining run (1 fake GPU per node, gloo on CPU), its linear
    probe and a figure: each a job of the real cluster."""
    wf = workflow(tmp_path_factory.mktemp("slurm-dag"))
    start = sacct_start()
    t0 = time.monotonic()
    proc = submit(wf, slurm, f"results/tiny/eval/linear/{RUN}.json", "results/tiny/figures/fig3_augmentations.png")
    return wf, proc, jobs_since(start, slurm), time.monotonic() - t0


def test_every_job_is_a_slurm_job(dag):
    wf, proc, jobs, seconds = dag
    rules = sorted(j["comment"].split("_wildcards")[0].removeprefix("rule_") for j in jobs)
    assert rules == sorted(["shapes_data", "check_pretrain_images", "pretrain", "linear_probe",
                            "fig3_augmentations"]), jobs
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    assert (wf / "results/tiny/figures/fig3_augmentations.png").stat().st_size > 0
    assert json.loads((wf / f"results/tiny/eval/linear/{RUN}.json").read_text())
    print(f"DAG of {len(jobs)} SLURM jobs in {seconds:.0f} s")


def test_pretraining_runs_on_both_nodes_without_a_nested_step_hang(dag):
    wf, _, jobs, _ = dag
    pretrain = next(j for j in jobs if j["comment"].startswith("rule_pretrain"))
    assert pretrain["nnodes"] == "2" and pretrain["nodes"] == "n[1-2]", pretrain
    assert "gres/gpu=2" in pretrain["tres"], pretrain  # 1 fake GPU on each node
    info = json.loads((wf / "results/tiny/pretrain" / RUN / "run.json").read_text())
    assert info["world_size"] == 2


def test_two_node_weights_equal_one_process(dag, slurm):
    wf, *_ = dag
    ref = one_process_run(wf, "one-process", slurm)
    out, _ = ref.communicate(timeout=600)
    assert ref.returncode == 0, out[-3000:]
    two = wf / "results/tiny/pretrain" / RUN
    assert len(losses(two)) == 4 and losses(two) == pytest.approx(losses(wf / "one-process"), rel=1e-5)
    # the global batch's loss step by step as 1 process's; the weights as close as 2 gloo processes
    # get to 1 on one machine with this recipe (measured here outside SLURM: 1.4e-3 at most, in the
    # BatchNorm weights and biases, whose gradients 2 processes sum in another order)
    assert_same_weights(wf / "one-process/backbone.pt", two / "backbone.pt", rtol=1e-3, atol=3e-3)


@pytest.fixture(scope="module")
def calibrated(slurm, tmp_path_factory) -> tuple[Path, float]:
    """The shapes of the one-run workflow and this machine's seconds per step of its recipe now (the
    median of two one-process runs side by side, as a SLURM job and its uncut reference run below)."""
    cal = workflow(tmp_path_factory.mktemp("calibrate"), recipe={"epoch_length": 8})
    (cal / "results/tiny/data").mkdir(parents=True)
    subprocess.run([f"{BIN}/python", "-m", "ssl_core.datasets.shapes", "--out", "results/tiny/data/shapes",
                    "--image-size", "32", "--n-classes", "8", "--n-train", "256", "--n-val", "64", "--seed", "0"],
                   cwd=cal, env=workflow_env(slurm), check=True, capture_output=True)
    probes = [one_process_run(cal, f"probe{i}", slurm) for i in range(2)]
    for probe in probes:
        assert probe.wait(timeout=600) == 0, probe.stdout.read()[-3000:]
    rates = [json.loads(line)["img_per_s"] for line in (cal / "probe0/metrics.jsonl").read_text().splitlines()]
    return cal, 64 / sorted(rates[2:])[len(rates[2:]) // 2]  # median, after the warm-up steps


def cut_workflow(tmp: Path, cal: Path, steps: int, runtime: int, ckpt_every: int, signal_seconds: int) -> Path:
    """The one-run workflow on the calibration's shapes, its pretraining a 1-process job of ``runtime``
    minutes (``signal_seconds``: SLURM's --signal lead, 0 none), ``steps`` steps in all."""
    wf = workflow(tmp, cluster={"pretrain": {"nodes": 1, "gpus_per_node": 0, "runtime": runtime}},
                  recipe={"epoch_length": steps}, ckpt_every=ckpt_every)
    cfg = yaml.safe_load((wf / "cluster.yaml").read_text())
    cfg["cluster"]["signal_seconds"] = signal_seconds
    (wf / "cluster.yaml").write_text(yaml.safe_dump(cfg))
    (wf / "results/tiny/data").mkdir(parents=True)
    (wf / "results/tiny/data/shapes").symlink_to(cal / "results/tiny/data/shapes")
    (wf / "results/tiny/data/checked").mkdir()  # the images' check job ran in the DAG test: not again
    (wf / "results/tiny/data/checked/pretrain.json").touch()
    return wf


def run_cut(wf: Path, env: dict[str, str], steps: int, retries: int) -> tuple[list[dict[str, str]], float, str]:
    """The pretraining submitted through the profile beside its uncut reference run (on the other
    core): its SLURM attempts, the seconds it took, its log; the weights checked against the uncut."""
    env = {**env, "SSL_STOP_BEFORE_END_S": "0"}  # no stop of the job's own ahead of the end
    start = sacct_start()
    t0 = time.monotonic()
    reference = one_process_run(wf, "uncut", env)
    submit(wf, env, f"results/tiny/pretrain/{RUN}/backbone.pt", options=("--retries", str(retries)), timeout=1800)
    seconds = time.monotonic() - t0
    out, _ = reference.communicate(timeout=600)
    assert reference.returncode == 0, out[-3000:]
    attempts = [j for j in jobs_since(start, env) if j["comment"].startswith("rule_pretrain")]
    log = (wf / "results/tiny/logs/pretrain" / f"{RUN}.log").read_text()
    records = [json.loads(line) for line in (wf / "results/tiny/pretrain" / RUN / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(steps)), attempts  # every step logged once, across the attempts
    assert_same_weights(wf / "uncut/backbone.pt", wf / "results/tiny/pretrain" / RUN / "backbone.pt")
    return attempts, seconds, log


def test_job_cut_by_its_time_limit_is_resubmitted_and_resumes_to_the_uncut_weights(slurm, calibrated, tmp_path):
    """A 1-process pretraining job with a 1-minute limit and about 2 minutes of steps: SLURM ends it
    TIMEOUT (60-90 s: slurmctld checks limits every 30 s), the profile's retries resubmit it, it
    resumes from its last checkpoint (every 2 steps), and its weights equal an uncut run's."""
    cal, seconds_per_step = calibrated
    steps = max(16, round(100 / seconds_per_step / 4) * 4)  # ~100 s of steps on this machine now
    # the limit itself: no --signal for a 1-minute job (common.smk), so SLURM ends each attempt TIMEOUT;
    # the profile's 3 retries, and more where this machine is slower now than when calibrated: each
    # attempt trains ~40-70 s of its 60-90 s (the rest starts Snakemake in the job)
    wf = cut_workflow(tmp_path, cal, steps, runtime=1, ckpt_every=2, signal_seconds=120)
    attempts, seconds, log = run_cut(wf, slurm, steps, retries=6)
    states = [j["state"] for j in attempts]
    assert states[0] == "TIMEOUT" and states[-1] == "COMPLETED", (steps, seconds_per_step, attempts)
    assert set(states[1:-1]) <= {"TIMEOUT"}, attempts
    print(f"{steps} steps at {seconds_per_step:.2f} s: {len(attempts)} SLURM jobs ({', '.join(states)}) in "
          f"{seconds:.0f} s; log tail: {log[-200:]!r}")


def test_job_signalled_before_its_limit_checkpoints_there_and_resumes_to_the_uncut_weights(slurm, calibrated,
                                                                                           tmp_path):
    """SLURM's --signal=USR1@40 on 3-minute jobs of ~260 s of steps in all (as calibrated; the runs
    went up to 1.8x faster than that here), and no periodic checkpoint: SLURM sends SIGUSR1 40-100 s
    before the limit (it may send it up to 60 s early) to every process of the job's steps. The in-job Snakemake dies of it; the training process saves its state at that step
    and exits 3 before its step ends (measured here: a job step's processes outlive its first task),
    so the job fails, the profile's retry resubmits it, and the run resumes from the signal's step
    to the uncut run's weights."""
    cal, seconds_per_step = calibrated
    steps = max(16, round(260 / seconds_per_step / 4) * 4)
    wf = cut_workflow(tmp_path, cal, steps, runtime=3, ckpt_every=10**6, signal_seconds=40)
    attempts, seconds, log = run_cut(wf, slurm, steps, retries=5)
    states = [j["state"] for j in attempts]
    assert len(attempts) >= 2, f"finished before the signal: {steps} steps at {seconds_per_step:.2f} s, {attempts}"
    assert states[-1] == "COMPLETED" and set(states[:-1]) == {"FAILED"}, attempts
    # every attempt but the last stopped by the signal, at a step of its own (no periodic checkpoint)
    stops = json.loads((wf / "results/tiny/pretrain" / RUN / "run.json").read_text())["stops"]
    assert [s["why"] for s in stops] == ["SIGUSR1"] * (len(attempts) - 1), (stops, attempts, log[-2000:])
    assert all(0 < s["step"] < steps for s in stops), stops
    assert f"resuming from step {stops[-1]['step']} of {steps}" in log, log[-2000:]  # the last attempt's log
    print(f"{steps} steps at {seconds_per_step:.2f} s: {len(attempts)} SLURM jobs ({', '.join(states)}), stopped at "
          f"steps {[s['step'] for s in stops]}, in {seconds:.0f} s")


def test_paper_smoke_cut_runs_as_slurm_jobs(slurm, tmp_path):
    """A cut of the paper_smoke DAG (config/paper_smoke.yaml: the paper's recipes at smoke scale) as
    jobs of the cluster: the miniature trees in the real layouts, the ImageNet check, SimCLR's
    ResNet-50 baseline pretrained across both nodes (the paper profile's launch: srun --overlap,
    torchrun per node, 1 fake GPU each; gloo on CPU) and its linear probe (moco-v3's main_lincls)."""
    wf = copy_workflow(tmp_path)
    cluster = json.loads(json.dumps(CLUSTER))
    cluster["pretrain"]["runtime"] = 30
    (wf / "config" / "smoke_slurm.yaml").write_text(yaml.safe_dump({
        "inherits": "paper_smoke.yaml", "cluster": cluster, "sweeps": [],
        "experiments": [{"method": "simclr", "arch": "resnet50", "variants": ["baseline"], "seeds": [0]}]}))
    run = "simclr-resnet50-baseline-seed0"
    start = sacct_start()
    t0 = time.monotonic()
    proc = subprocess.run(
        [f"{BIN}/snakemake", f"results/paper_smoke/eval/linear/{run}.json", "--workflow-profile", "workflow/profiles/slurm",
         "--configfile", "config/smoke_slurm.yaml", "--slurm-init-seconds-before-status-checks", "2",
         "--seconds-between-status-checks", "2", "--latency-wait", "5"],
        cwd=wf, env=workflow_env(slurm), capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    jobs = jobs_since(start, slurm)
    rules = sorted(j["comment"].split("_wildcards")[0].removeprefix("rule_") for j in jobs)
    assert rules == sorted(["miniature_data", "check_pretrain_images", "pretrain", "linear_probe"]), jobs
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    pretrain = next(j for j in jobs if j["comment"].startswith("rule_pretrain"))
    assert pretrain["nnodes"] == "2" and "gres/gpu=2" in pretrain["tres"], pretrain
    info = json.loads((wf / "results/paper_smoke/pretrain" / run / "run.json").read_text())
    assert info["world_size"] == 2 and info["steps"] == 2
    assert load_torch(wf / "results/paper_smoke/pretrain" / run / "backbone.pt")["arch"] == "resnet50"
    probe = json.loads((wf / f"results/paper_smoke/eval/linear/{run}.json").read_text())
    assert 0 <= probe["value"] <= 100
    print(f"paper_smoke cut: {len(jobs)} SLURM jobs in {time.monotonic() - t0:.0f} s")
