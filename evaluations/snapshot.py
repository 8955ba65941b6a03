"""A finished profile's results as a committed reference (``python -m evaluations snapshot``):
metrics.csv, the tables, the figures (PNG and their CSVs), each probe's per-image predictions and
MANIFEST.json, which says what made them (the commit, the machine, the wall time, the torch
threads, the rescue term's BatchNorm rule), so that a later rerun can be compared with them
(``compare-reference``) knowing what may differ."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

from ssl_core.host import cpu_model
from ssl_core.io import write_json, write_text


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def snapshot(results: str | Path, out: str | Path, wall_seconds: float, command: str = "", commit: str = "",
             part: str = "") -> dict:
    """Copy ``results`` (results/<profile>) into ``out`` (results/reference/<profile>) and write its
    MANIFEST.json; ``part`` names one part of a reference built in parts (the MANIFEST keeps every
    part's commit, wall time, command and runs; its wall_seconds is their sum). Returns the manifest."""
    results, out = Path(results), Path(out)
    files = [results / "metrics.csv", *sorted((results / "tables").glob("*.*")),
             *sorted(p for p in (results / "figures").glob("*.*") if p.suffix in (".png", ".csv"))]
    if not files[0].is_file():
        raise SystemExit(f"{results} holds no finished run: expected {files[0]}, {results}/tables/, {results}/figures/")
    now = (results / "metrics.csv").read_text().splitlines()
    earlier = _earlier_rows(out / "metrics.csv", now, results / "metrics.csv") if part else []
    for path in files:
        (out / path.parent.relative_to(results)).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / path.relative_to(results))
    if earlier:  # the earlier parts' runs, from results dirs that may be gone, before this part's
        write_text(out / "metrics.csv", "\n".join([now[0], *earlier, *now[1:]]) + "\n")
    # Each probe's per-image predictions (for paired per-image analyses: python -m evaluations power --predictions).
    predictions = sorted((results / "eval" / "linear").glob("*.predictions.csv.gz"))
    if predictions:
        (out / "predictions").mkdir(parents=True, exist_ok=True)
        for path in predictions:
            shutil.copyfile(path, out / "predictions" / path.name)
    commit = commit or head_commit()
    # The torch thread count of every pretraining and probe job (run.json, eval/linear/*.json).
    jobs = [*results.glob("pretrain/*/run.json"), *results.glob("eval/linear/*.json")]
    threads = sorted({json.loads(p.read_text()).get("torch_threads") for p in jobs} - {None})
    # The rescued runs' BatchNorm rule (rescue.bn, docs/protocols.md); a spec without one predates it.
    specs = [json.loads(p.read_text())["spec"] for p in results.glob("pretrain/*/run.json")]
    rescue_bn = sorted({(s.get("rescue") or {}).get("bn", "own_batch (made before bb2e21b)") for s in specs
                        if s.get("variant") == "rescued"})
    manifest = {
        "profile": results.name, "commit": commit, "wall_seconds": wall_seconds, "command": command,
        "torch_threads": threads, "rescue_bn": rescue_bn,
        "machine": {"cores": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": version("torch"), "torchvision": version("torchvision")},
        "files": [str(p.relative_to(results)) for p in files],
        "predictions": len(list((out / "predictions").glob("*.predictions.csv.gz"))),
    }
    if part:
        old = json.loads((out / "MANIFEST.json").read_text()).get("parts", {}) if (out / "MANIFEST.json").exists() else {}
        # A part's runs are its finished ones: probed (a pretraining that was stopped is no run of it).
        runs = sorted(p.stem for p in results.glob("eval/linear/*.json"))
        manifest["parts"] = {**old, part: {
            "commit": commit, "wall_seconds": wall_seconds, "command": command, "torch_threads": threads,
            "cpu": manifest["machine"]["cpu"],  # a pair is only a pair on one CPU type (evaluations.cpu)
            "runs": [r for r in runs if not any(r in q["runs"] for name, q in old.items() if name != part)]}}
        manifest["wall_seconds"] = sum(q["wall_seconds"] for q in manifest["parts"].values())
    write_json(out / "MANIFEST.json", manifest)
    return manifest


def _earlier_rows(reference: Path, now: list[str], new: Path) -> list[str]:
    """The lines of ``reference`` (the reference's metrics.csv) of runs that ``now`` (the lines of
    this part's metrics.csv ``new``, same columns) does not hold, as written: a part is built in a
    results dir of its own, and the earlier parts' rows stay in the reference (a rerun run's rows
    are the new ones)."""
    if not reference.is_file():
        return []
    old = reference.read_text().splitlines()
    if not old or not now or old[0] != now[0] or old[0].split(",", 1)[0] != "run":
        raise SystemExit(f"{reference} and {new} have other columns: a part adds rows of the same metrics.csv")
    mine = {line.split(",", 1)[0] for line in now[1:]}
    return [line for line in old[1:] if line.split(",", 1)[0] not in mine]
