"""A rerun against a reference run (results/reference/<profile>/metrics.csv): which numbers differ
and by how much. ``exact``: run by run and metric, within ``atol`` (0: equal as written, to the
4 decimals of metrics.csv), what seeded runs give on the same kind of machine. ``interval``: per
(method, arch, variant, task, dataset, metric) of the main runs, our mean over seeds must lie in the
reference's 95 % interval of its mean (evaluations.stats), what to expect on another machine."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluations import stats
from evaluations.results import main_runs, read_metrics

RUN_KEYS = ["run", "task", "dataset", "metric"]
GROUP_KEYS = ["method", "arch", "variant", "task", "dataset", "metric"]
COLUMNS = sorted({*RUN_KEYS, *GROUP_KEYS, "s", "k", "seed", "value"})  # what a comparison reads


class CompareInputError(ValueError):
    """A table that cannot be compared (missing, not a metrics.csv, another profile's); one line."""


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """A metrics.csv to compare, or a one-line CompareInputError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CompareInputError(f"{what}: no file at {path} (a finished profile writes results/<profile>/metrics.csv; "
                                "the committed references are results/reference/<profile>/metrics.csv)")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise CompareInputError(f"{what}: {path} is not a CSV file ({type(e).__name__}: {' '.join(str(e).split())})") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CompareInputError(f"{what}: {path} is not a metrics.csv: no column(s) {', '.join(missing)} "
                                f"(expected {', '.join(COLUMNS)})")
    return read_metrics(path)


def profile_of(path: str | Path) -> str | None:
    """The profile a metrics.csv belongs to: its MANIFEST.json's (a reference), else the folder of
    results/<profile>/metrics.csv or results/reference/<profile>/metrics.csv; None if unknown."""
    path = Path(path).resolve()
    manifest = path.parent / "MANIFEST.json"
    if manifest.is_file():
        try:
            return json.loads(manifest.read_text()).get("profile") or path.parent.name
        except json.JSONDecodeError:
            pass
    return path.parent.name if path.parent.parent.name in ("results", "reference") else None


def check_profiles(ours: str | Path, reference: str | Path, any_profile: bool = False) -> str | None:
    """Refuse (CompareInputError) to compare two different profiles' runs, whose run names can be
    equal while their data and recipes differ; with ``any_profile``, a warning line instead."""
    mine, theirs = profile_of(ours), profile_of(reference)
    if mine and theirs and mine != theirs:
        message = (f"{ours} is of profile {mine!r}, {reference} of profile {theirs!r}: runs of the same name "
                   "differ in data and recipe across profiles")
        if not any_profile:
            raise CompareInputError(f"{message}; compare a {mine!r} run with a {mine!r} reference, or pass "
                                    "--any-profile to compare anyway")
        return f"WARNING: {message}"
    return None


def _keys(ours: pd.DataFrame, reference: pd.DataFrame, keys: list[str]) -> list[str]:
    return (["group"] if "group" in ours.columns and "group" in reference.columns else []) + keys


def compare_exact(ours: pd.DataFrame, reference: pd.DataFrame, atol: float = 0.0) -> pd.DataFrame:
    """Every (run, task, dataset, metric) of either table: both values, their difference and ``ok``
    (|difference| <= atol, or both NaN); a number present on one side only is not ok."""
    keys = _keys(ours, reference, RUN_KEYS)
    both = ours[keys + ["value"]].merge(reference[keys + ["value"]], on=keys, how="outer",
                                        suffixes=("_ours", "_reference"), indicator=True)
    both["difference"] = both.value_ours - both.value_reference
    both["ok"] = (both.difference.abs() <= atol) | (both.value_ours.isna() & both.value_reference.isna()
                                                    & (both._merge == "both"))
    both["where"] = both._merge.map({"both": "", "left_only": "only in ours", "right_only": "only in reference"})
    return both.drop(columns="_merge").rename(columns={"value_ours": "ours", "value_reference": "reference"})


def compare_intervals(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per (method, arch, variant, task, dataset, metric) of the main runs: our mean, the
    reference's mean and 95 % interval, ``ok`` where ours lies within it (a reference of one seed
    has no interval: then ours must equal its value)."""
    ref = stats.variant_summary(main_runs(reference), keys=GROUP_KEYS[:2] + GROUP_KEYS[3:])
    mine = stats.variant_summary(main_runs(ours), keys=GROUP_KEYS[:2] + GROUP_KEYS[3:])
    both = mine[GROUP_KEYS + ["mean", "n"]].merge(ref[GROUP_KEYS + ["mean", "ci_low", "ci_high", "n"]], on=GROUP_KEYS,
                                                  how="outer", suffixes=("_ours", "_reference"), indicator=True)
    low = both.ci_low.fillna(both.mean_reference)
    high = both.ci_high.fillna(both.mean_reference)
    both["difference"] = both.mean_ours - both.mean_reference
    both["ok"] = (both.mean_ours >= low) & (both.mean_ours <= high)
    both["where"] = both._merge.map({"both": "", "left_only": "only in ours", "right_only": "only in reference"})
    return both.drop(columns="_merge").rename(columns={"mean_ours": "ours", "mean_reference": "reference"})


def report_differences(table: pd.DataFrame) -> str:
    """The numbers that differ beyond the tolerance, one per line, and a summary line."""
    bad = table[~table.ok]
    lines = [f"{len(bad)} of {len(table)} numbers differ beyond the tolerance"]
    if len(bad):
        lines.append(bad.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return "\n".join(lines)
