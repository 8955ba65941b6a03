"""Seconds Snakemake needs to build the paper profile's DAG: ``snakemake -n --configfile
config/paper.yaml`` (parse, validate the config, expand every run and target, dry-run), wall
time of the command, best and median of ``--repeats``.

    python -m benchmarks.dag
    python -m benchmarks.dag --repeats 1 --configfile config/config.yaml   # smoke
    python -m benchmarks.dag --directory /tmp/copy                          # in a copy of the workflow
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, emit


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dag", description=__doc__.split("\n\n")[0])
    p.add_argument("--configfile", default="config/paper.yaml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--directory", default=str(ROOT), help="the workflow's folder (default: this repository)")
    args = p.parse_args(argv)
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    cmd = [snakemake, "-n", "--configfile", args.configfile]
    times, jobs = [], None
    # this repository's code, also where the workflow is a copy without it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for _ in range(args.repeats):
        tic = time.perf_counter()
        done = subprocess.run(cmd, cwd=args.directory, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - tic)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        total = re.search(r"^total\s+(\d+)", done.stdout + done.stderr, re.MULTILINE)
        jobs = int(total.group(1)) if total else None
    emit("dag", command=" ".join(["snakemake"] + cmd[1:]), jobs=jobs, repeats=args.repeats,
         best_s=min(times), median_s=statistics.median(times), clock="wall")


if __name__ == "__main__":
    main()
