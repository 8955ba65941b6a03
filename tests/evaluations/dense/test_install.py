"""``make detectron2`` (evaluations.dense.install), offline: each failure says what to do, and pip
never starts where the source or the compiler is missing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evaluations.dense import DETECTRON2_COMMIT
from evaluations.dense import install as I
from tests.conftest import ROOT

UNREACHABLE = "git+file:///nonexistent/detectron2.git@" + DETECTRON2_COMMIT


@pytest.fixture()
def no_pip(monkeypatch):
    """Fail the test if pip would be started (git probes still run)."""
    real = subprocess.run

    def run(cmd, *args, **kwargs):
        assert "pip" not in cmd, f"pip started: {cmd}"
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(I.subprocess, "run", run)


def make_detectron2(*args: str) -> subprocess.CompletedProcess:
    """``make detectron2`` with this interpreter's environment as the venv, its stamp taken as made."""
    venv = Path(sys.prefix)
    stamp = subprocess.run(["cksum", "pyproject.toml"], cwd=ROOT, capture_output=True, text=True).stdout.split()[0]
    return subprocess.run(["make", "detectron2", f"VENV={venv}", "-o", f"{venv}/.installed-{stamp}", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_make_detectron2_without_network_says_how_to_install_offline():
    proc = make_detectron2(f"DETECTRON2_SRC={UNREACHABLE}")
    assert proc.returncode != 0
    if I.find_compiler() is None:
        assert "No C++ compiler found" in proc.stderr
    else:
        assert "Cannot reach file:///nonexistent/detectron2.git (no network?)" in proc.stderr
        assert f"checkout {DETECTRON2_COMMIT}" in proc.stderr and "DETECTRON2_SRC=/path/to/detectron2" in proc.stderr


def test_default_source_is_the_pinned_commit_and_stays_out_of_reproduce_and_ci():
    assert I.DEFAULT_SOURCE == f"git+https://github.com/facebookresearch/detectron2.git@{DETECTRON2_COMMIT}"
    dry = subprocess.run(["make", "-n", "reproduce", "test"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "evaluations.dense.install" not in dry and "detectron2" not in (ROOT / ".ci" / "run").read_text()


def test_no_compiler_is_named_before_anything_else(monkeypatch, capsys, no_pip):
    monkeypatch.setattr(I.shutil, "which", lambda name: None)
    assert I.main(["--source", UNREACHABLE]) == 1
    assert "No C++ compiler found" in capsys.readouterr().err


def test_local_source_must_be_a_detectron2_checkout_at_the_pinned_commit(tmp_path, capsys, no_pip):
    assert I.main(["--source", str(tmp_path)]) == 1
    assert "is not a Detectron2 source folder" in capsys.readouterr().err
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "detectron2").mkdir()
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "setup.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "other"], check=True)
    if I.find_compiler() is not None:
        assert I.main(["--source", str(tmp_path)]) == 1
        assert f"git -C {tmp_path} checkout {DETECTRON2_COMMIT}" in capsys.readouterr().err
