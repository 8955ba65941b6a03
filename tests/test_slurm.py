"""The SLURM profile at the paper's scale, checked through the real executor plugin: a fake ``sbatch``
on PATH records the command lines the plugin builds from the config's `cluster` section, per rule.

Only what the real SLURM of tests/test_slurm_cluster.py (two nodes on this machine, 2 fake GPUs
each) cannot do stays here: jobs of the paper's size (2 nodes x 8 GPUs, 64 CPUs, 400 GB a job),
which that cluster rejects at submission, and a site's own partitions (gpu / cpu) and account."""
from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.test_workflow import BIN, ROOT, copy_workflow, workflow_env

FAKE = {  # SLURM's client tools, as far as the plugin calls them
    "sbatch": 'echo "$@" >> "$FAKE_SLURM_LOG"; echo 4242',
    "sacct": 'echo "4242|FAILED"',  # every job "fails" at once: nothing runs here
    "squeue": "exit 0",
    "sinfo": "exit 0",
    "scontrol": "exit 0",
    "sacctmgr": "echo acc1",  # the plugin checks the account exists
}
CLUSTER = {"cluster": {
    "account": "acc1", "partition": "gpu",
    "pretrain": {"nodes": 2, "gpus_per_node": 8, "cpus_per_task": 64, "mem_mb": 400000, "runtime": 2880},
    "evaluate": {"gpus_per_node": 1, "cpus_per_task": 10, "mem_mb": 64000, "runtime": 600},
    "report": {"partition": "cpu", "mem_mb": 8000},
}}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict[str, str]:
    wf = copy_workflow(tmp_path_factory.mktemp("slurm"))
    fake = wf / "fakebin"
    fake.mkdir()
    for name, body in FAKE.items():
        (fake / name).write_text(f"#!/bin/bash\n{body}\n")
        (fake / name).chmod(0o755)
    (wf / "cluster.yaml").write_text(yaml.safe_dump(CLUSTER))
    checked = wf / "results/paper/data/checked/pretrain.json"  # ImageNet's images checked (before the run
    checked.parent.mkdir(parents=True)                           # below): the jobs reading it are submitted
    checked.touch()
    (checked.parent / "dense.json").touch()  # VOC and COCO checked too (check_dense_data)
    done = wf / "results/paper/pretrain/simclr-resnet50-baseline-seed0"  # so its probe is submitted
    done.mkdir(parents=True)
    for name in ("backbone.pt", "run.json", "metrics.jsonl"):
        (done / name).touch()
    env = workflow_env({**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
                        "FAKE_SLURM_LOG": str(wf / "sbatch.log")})
    subprocess.run(
        [f"{BIN}/snakemake", "--workflow-profile", "workflow/profiles/slurm", "--configfile", "config/paper.yaml",
         "cluster.yaml", "--retries", "0", "--jobs", "3", "--slurm-init-seconds-before-status-checks", "1",
         "results/paper/pretrain/mocov3-vit_small-rescued-s0.05-k64-seed0/backbone.pt",
         "results/paper/eval/linear/simclr-resnet50-baseline-seed0.json",
         "results/paper/figures/fig3_augmentations.png"],
        cwd=wf, env=env, capture_output=True, text=True, timeout=300)
    calls = (wf / "sbatch.log").read_text().splitlines()
    return {rule: next(c for c in calls if f"--comment rule_{rule}" in c) for rule in
            ("pretrain", "linear_probe", "fig3_augmentations")}


def test_pretrain_job_asks_for_nodes_gpus_and_time_from_the_config(submissions):
    call = submissions["pretrain"]
    for opt in ("-A acc1", "-p gpu", "-t 2880", "--mem 400000", "--nodes=2", "--gres=gpu:8", "--cpus-per-task=64",
                "--requeue"):
        assert opt in call, (opt, call)


def test_evaluation_and_report_jobs_get_their_own_resources(submissions):
    probe, fig = submissions["linear_probe"], submissions["fig3_augmentations"]
    for opt in ("-p gpu", "-t 600", "--mem 64000", "--gres=gpu:1", "--cpus-per-task=10"):
        assert opt in probe, (opt, probe)
    assert "-p cpu" in fig and "--mem 8000" in fig and "--gres" not in fig


def test_multi_gpu_command_line(tmp_path):
    wf = copy_workflow(tmp_path)
    (wf / "cluster.yaml").write_text(yaml.safe_dump(CLUSTER))
    out = subprocess.run([f"{BIN}/snakemake", "results/paper/pretrain/simclr-resnet50-baseline-seed0/backbone.pt",
                          "-n", "-p", "-c1", "--configfile", "config/paper.yaml", "cluster.yaml"],
                         cwd=wf, capture_output=True, text=True, env=workflow_env())
    assert out.returncode == 0, out.stderr
    # nodes, processes per node, CPUs per task, GPUs per node; the script runs torchrun through
    # `srun --overlap` on every node (on the real SLURM: tests/test_slurm_cluster.py)
    assert "bash workflow/scripts/srun_torchrun.sh 2 8 64 8 -m ssl_core pretrain --spec" in out.stdout


def test_each_job_has_its_own_rendezvous_port(tmp_path):
    """Two jobs whose first node is the same host (jobs of part of a node's GPUs) must not share a
    rendezvous endpoint: with one fixed port the second job's agents joined the first job's store
    and both failed (measured on the local SLURM). The port comes from the job id; SSL_RDZV_PORT
    overrides it."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for name, body in {"squeue": "echo n1", "scontrol": 'if [ "$1" = show ] && [ "$2" = hostnames ]; then echo n1; '
                       'else echo "NodeName=n1 NodeAddr=10.0.0.7 State=IDLE"; fi', "srun": 'echo "$@"'}.items():
        (fake / name).write_text(f"#!/bin/bash\n{body}\n")
        (fake / name).chmod(0o755)

    def launch(job: str, **extra: str) -> str:
        env = {**{k: v for k, v in os.environ.items() if k != "SSL_RDZV_PORT"}, "SLURM_JOB_ID": job, "SLURM_NNODES": "1",
               "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", **extra}
        out = subprocess.run(["bash", "workflow/scripts/srun_torchrun.sh", "2", "1", "4", "1", "-m", "ssl_core"],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
        assert "--overlap" in out and "--rdzv-id=" + job in out
        assert 'trap "" USR1; exec "$@" torchrun python -m torch.distributed.run' in out  # the agent outlives --signal
        return next(a for a in out.split() if a.startswith("--rdzv-endpoint="))

    assert launch("12345") == "--rdzv-endpoint=10.0.0.7:32345"
    assert launch("12346") == "--rdzv-endpoint=10.0.0.7:32346"
    assert launch("12345", SSL_RDZV_PORT="29500") == "--rdzv-endpoint=10.0.0.7:29500"
