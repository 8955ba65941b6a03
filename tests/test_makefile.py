"""The Makefile's commands, read with `make -n` (prints, runs nothing)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def snakemake_lines(target: str, args: str | None = None) -> list[str]:
    """The snakemake command lines `make <target>` would run, without the PATH prefix."""
    cmd = ["make", "-n", "--no-print-directory", target] + ([f"ARGS={args}"] if args is not None else [])
    # not the variables of a `make test ARGS=...` that runs this test (make passes them on in MAKEFLAGS)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return [line.split("$PATH ", 1)[1].strip() for line in out.splitlines() if "snakemake" in line]


def test_reproduce_is_plain_snakemake_then_the_report_of_the_profile():
    # the default profile gives the cores; a plain snakemake loads it (test_dry_run_tiny_profile)
    assert yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())["cores"] == "all"
    assert snakemake_lines("reproduce") == ["snakemake", "snakemake --report results/tiny/report.html"]
    assert snakemake_lines("reproduce", "--configfile config/paper.yaml -c4") == [
        "snakemake --configfile config/paper.yaml -c4",
        "snakemake --report results/paper/report.html --configfile config/paper.yaml -c4"]
    assert snakemake_lines("report", "--configfile=config/cifar.yaml") == [
        "snakemake --report results/cifar/report.html --configfile=config/cifar.yaml"]


def test_a_dry_run_writes_no_report():
    for dry in ("-n", "-np", "--dry-run"):
        assert snakemake_lines("reproduce", f"--configfile config/paper.yaml {dry}") == [
            f"snakemake --configfile config/paper.yaml {dry}"]
