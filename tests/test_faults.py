"""Fault injection on the real DAG (issue 23): one short SimCLR run through Snakemake's shapes_data,
check_pretrain_images and pretrain jobs, then each fault a user meets: a forced finished run, an
edited recipe value, a damaged checkpoint, a damaged image, a Snakemake started without its
environment on PATH. Nothing finished may be lost or misreported.

Kept small (128 images of 16 px, 4 steps at batch 32): the whole file runs in ~1 min on 2 cores.
The trainer-level versions of these faults (resume from step N, previous.pt) are in
tests/ssl_core/test_trainer_faults.py."""
import json
import subprocess

import pytest
import yaml

from test_workflow import BIN, copy_workflow, snakemake, workflow_env

RUN = "simclr-resnet_tiny-baseline-seed0"
BACKBONE = f"results/tiny/pretrain/{RUN}/backbone.pt"


@pytest.fixture(scope="module")
def wf(tmp_path_factory):
    """A copy of the workflow with one short run, trained once."""
    wf = copy_workflow(tmp_path_factory.mktemp("faults"))
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["data"]["shapes"].update(n_train=128, n_val=32, image_size=16)
    cfg["methods"]["simclr"]["recipe"].update(image_size=16, epochs=1, batch_size=32, proj_hidden_dim=32,
                                              proj_out_dim=256)  # a healthy std ~ 1/16 < 0.1: issue 23's case
    cfg["train"]["ckpt_every_steps"] = 2
    cfg["experiments"] = [{"method": "simclr", "arch": "resnet_tiny", "variants": ["baseline"], "seeds": [0]}]
    cfg.pop("sweeps", None)
    (wf / "faults.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(BACKBONE, "-c1", "--configfile", "faults.yaml", cwd=wf)
    return wf


def run_json(wf):
    return json.loads((wf / "results" / "tiny" / "pretrain" / RUN / "run.json").read_text())


def log(wf):
    return (wf / "results" / "tiny" / "logs" / "pretrain" / f"{RUN}.log").read_text()


def ckpt(wf):
    return wf / "results" / "tiny" / "ckpt" / RUN


def damaged_image(wf):
    """The first training image cut to half its bytes: (its path, its good bytes) for the caller to restore."""
    image = sorted((wf / "results" / "tiny" / "data" / "shapes" / "train").rglob("*.png"))[0]
    good = image.read_bytes()
    image.write_bytes(good[: len(good) // 2])
    return image, good


def test_forcing_a_finished_run_keeps_its_results(wf):
    """A finished run forced (-f) by a .venv/bin/snakemake started with no environment on PATH, an image
    damaged since it trained: the jobs' python is still the one that runs Snakemake, nothing is
    trained and no image read, and the run's results are rewritten as they were."""
    before = run_json(wf)
    assert before["steps"] == 4 and before["collapse"] is None
    env = workflow_env()
    env["PATH"] = "/usr/bin:/bin"
    image, good = damaged_image(wf)
    try:
        proc = subprocess.run([f"{BIN}/snakemake", BACKBONE, "-c1", "-f", "--configfile", "faults.yaml"],
                              cwd=wf, env=env, capture_output=True, text=True)
    finally:
        image.write_bytes(good)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = run_json(wf)
    assert after["collapse"] is None and after["steps"] == 4 and after["final"] == before["final"]
    assert "resuming from step 4 of 4" in log(wf)


def test_a_damaged_checkpoint_is_set_aside(wf):
    last = ckpt(wf) / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    before = run_json(wf)
    snakemake(BACKBONE, "-c1", "-f", "--configfile", "faults.yaml", cwd=wf)
    text = log(wf)
    assert f"{last.relative_to(wf)} cannot be read" in text and "resuming from previous.pt" in text
    assert run_json(wf)["steps"] == 4 and run_json(wf)["final"] == before["final"]  # steps 3-4 retrained, same
    assert (ckpt(wf) / "last.pt.damaged").exists()


def test_an_edited_recipe_value_reruns_the_run_afresh(wf):
    """An edited recipe value retrains from step 0, the old checkpoint set aside; a damaged image
    stops that training with its name, no traceback, and nothing lost; once it is mended the run
    trains with the edited value."""
    (wf / "edit.yaml").write_text("methods:\n  simclr:\n    recipe:\n      temperature: 0.4\n")
    proc = snakemake(BACKBONE, "-n", "-c1", "--configfile", "faults.yaml", "edit.yaml", cwd=wf)
    assert "pretrain" in proc.stdout
    image, good = damaged_image(wf)
    try:  # no retry: the profile's one retry would fail the same way
        proc = snakemake(BACKBONE, "-c1", "--retries", "0", "--configfile", "faults.yaml", "edit.yaml", cwd=wf,
                         check=False)
    finally:
        image.write_bytes(good)
    assert proc.returncode != 0
    text = log(wf)
    assert f"error: {image.relative_to(wf)} cannot be decoded" in text and "Traceback" not in text
    assert (ckpt(wf) / "last.pt.other-spec").exists()
    snakemake(BACKBONE, "-c1", "--configfile", "faults.yaml", "edit.yaml", cwd=wf)
    info = run_json(wf)
    assert info["spec"]["recipe"]["temperature"] == 0.4 and info["steps"] == 4 and info["collapse"] is None
