"""Which CPU type made each run, and pairs only on one CPU type.

A baseline and a rescued run of the same seed are a pair because they start from the same weights
and see the same batches; the float arithmetic that follows is the CPU's. The same 8 SimCLR
baselines of the verdict profile rerun on a 2-core AMD EPYC differ from the committed reference's
(an Intel Xeon) by -3.4 to +4.4 points per seed (issue 39): a pair whose two runs were trained on
different CPU types carries that machine difference in its paired gain. So:

- every run records its CPU (run.json ``cpu``, ssl_core.host.cpu_model) and every part of a
  reference built in parts records its machine's (MANIFEST.json ``parts.<name>.cpu``);
- :func:`run_cpus` reads them back (run.json first, then the MANIFEST's part, then its machine);
- :func:`mixed_pairs` lists the seeds whose baseline and rescued run are of different CPU types
  and :func:`same_cpu_pairs` refuses them (``MixedCpuError``, one line naming them and the fix)
  or drops them with a note. A run whose CPU is not recorded (made before this) is not refused:
  the note says how many pairs could not be checked.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluations.stats import PAIR

UNKNOWN = ""  # a run whose CPU no record names


class MixedCpuError(ValueError):
    """Pairs whose baseline and rescued runs were trained on different CPU types."""


def manifest_cpus(manifest: dict) -> dict[str, str]:
    """run -> CPU of a reference's MANIFEST.json: each part's ``cpu``, else (a part written before
    parts recorded it, or a reference made in one go) the MANIFEST's ``machine.cpu``."""
    default = (manifest.get("machine") or {}).get("cpu", UNKNOWN)
    cpus = {}
    for part in (manifest.get("parts") or {}).values():
        for run in part.get("runs", []):
            cpus[run] = part.get("cpu") or default
    return cpus


def run_cpus(metrics_path: str | Path) -> dict[str, str]:
    """run -> CPU type of the runs beside a metrics.csv: the MANIFEST.json in its folder (a
    reference) and each ``pretrain/<run>/run.json`` there (a profile's results), run.json winning.
    Runs no record names are absent."""
    folder = Path(metrics_path).parent
    cpus: dict[str, str] = {}
    manifest = folder / "MANIFEST.json"
    if manifest.is_file():
        cpus.update(manifest_cpus(json.loads(manifest.read_text())))
    for path in folder.glob("pretrain/*/run.json"):
        cpu = json.loads(path.read_text()).get("cpu")
        if cpu:
            cpus[path.parent.name] = cpu
    return {run: cpu for run, cpu in cpus.items() if cpu}


def mixed_pairs(metrics: pd.DataFrame, cpus: dict[str, str]) -> pd.DataFrame:
    """The (method, arch, s, k, seed) whose baseline and rescued runs are recorded on different
    CPU types, with both runs and CPUs (``s``/``k`` those of the rescued run)."""
    runs = metrics[metrics.variant.isin(PAIR)].drop_duplicates("run")
    base = runs[runs.variant == "baseline"][["method", "arch", "seed", "run"]]
    resc = runs[runs.variant == "rescued"][["method", "arch", "seed", "s", "k", "run"]]
    both = resc.merge(base, on=["method", "arch", "seed"], suffixes=("_rescued", "_baseline"))
    both["cpu_rescued"] = [cpus.get(r, UNKNOWN) for r in both.run_rescued]
    both["cpu_baseline"] = [cpus.get(r, UNKNOWN) for r in both.run_baseline]
    known = (both.cpu_rescued != UNKNOWN) & (both.cpu_baseline != UNKNOWN)
    out = both[known & (both.cpu_rescued != both.cpu_baseline)].reset_index(drop=True)
    out.attrs["unchecked"] = int((~known).sum())
    return out


def same_cpu_pairs(metrics: pd.DataFrame, cpus: dict[str, str], drop: bool = False,
                   source: str = "metrics.csv") -> tuple[pd.DataFrame, str]:
    """``metrics`` without pairs across CPU types, and a note (empty where there is nothing to say).
    Without ``drop`` a pair across CPU types is an error (MixedCpuError); with it, the rescued run
    of such a pair is left out (its baseline may pair with a rescued run of its own CPU)."""
    bad = mixed_pairs(metrics, cpus)
    unchecked = bad.attrs["unchecked"]
    notes = [f"{unchecked} pair(s) with a run whose CPU is not recorded (run.json 'cpu' / MANIFEST parts): "
             "not checked"] if unchecked else []
    if bad.empty:
        return metrics, "; ".join(notes)
    first = bad.iloc[0]
    what = (f"{len(bad)} pair(s) of {source} were trained on different CPU types, e.g. {first.run_baseline} "
            f"on {first.cpu_baseline!r} and {first.run_rescued} on {first.cpu_rescued!r}")
    if not drop:
        raise MixedCpuError(f"{what}: a pair is only a pair on one CPU type; rerun one side of each on the other's "
                            "CPU type (or pass --drop-mixed-cpu to leave those pairs out)")
    notes.append(f"{what}: left out")
    return metrics[~metrics.run.isin(bad.run_rescued)].reset_index(drop=True), "; ".join(notes)


def cpu_types(runs, cpus: dict[str, str]) -> list[str]:
    """The distinct recorded CPU types of ``runs``."""
    return sorted({cpus[r] for r in runs if cpus.get(r)})
