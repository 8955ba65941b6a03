"""A rerun against a reference run (results/reference/<profile>/metrics.csv): which numbers differ
and by how much. ``exact``: run by run and metric, within ``atol`` (0: equal as written, to the
4 decimals of metrics.csv), what seeded runs give on the same kind of machine. ``interval``: per
(method, arch, variant, task, dataset, metric) of the main runs, our mean over seeds must lie in the
reference's 95 % interval of its mean (evaluations.stats), what to expect on another machine.
``distribution``: a rerun on another CPU type, where no per-seed number repeats (a pair is only a
pair on one CPU type, evaluations.cpu): each mean over seeds and each paired gain within the
reference's 95 % prediction interval for a mean of as many seeds as the rerun's; compare-reference
switches to it from ``exact`` when the two tables' recorded CPU types differ."""
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


DIST_KEYS = ["group", "method", "arch", "variant", "s", "k", "task", "dataset", "metric"]


def _prediction_bounds(mean: float, sd: float, n_ref: int, n_ours: int) -> tuple[float, float]:
    """The 95 % prediction interval of the mean of ``n_ours`` new values around a reference mean of
    ``n_ref`` values with SD ``sd``: mean -+ t(n_ref - 1) * sd * sqrt(1 / n_ref + 1 / n_ours)."""
    if n_ref < 2 or not sd == sd:
        return mean, mean
    half = float(stats.sps.t.ppf((1 + stats.CONFIDENCE) / 2, n_ref - 1) * sd * (1 / n_ref + 1 / n_ours) ** 0.5)
    return mean - half, mean + half


def compare_distribution(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """A rerun read against a reference made on another CPU type, where no per-seed number is
    expected to match (a pair is only a pair on one CPU type): per (group, method, arch, variant, s,
    k, task, dataset, metric) our mean over seeds (``what`` level) and per comparison our paired gain
    rescued - baseline (``what`` gain), each ``ok`` where it lies in the reference's 95 % prediction
    interval for a mean of as many seeds as ours (:func:`_prediction_bounds`: the reference's spread,
    widened for the rerun's own few seeds)."""
    keys = [k for k in DIST_KEYS if k in ours.columns and k in reference.columns]
    rows = []

    def fill(df):
        return df.assign(s=df.s.fillna(-1), k=df.k.fillna(-1))  # baselines: no s, k (groupby drops NaN)

    mine_levels = {key: g.value.dropna() for key, g in fill(ours).groupby(keys)}
    for key, g in fill(reference).groupby(keys):
        theirs = g.value.dropna()
        mine = mine_levels.get(key)
        if mine is None or mine.empty or theirs.empty:
            continue
        low, high = _prediction_bounds(theirs.mean(), theirs.std(ddof=1), len(theirs), len(mine))
        rows.append({"what": "level", **dict(zip(keys, key)), "ours": mine.mean(), "reference": theirs.mean(),
                     "low": low, "high": high, "n_ours": len(mine), "n_reference": len(theirs)})
    gain_keys = [k for k in ("group", "method", "arch", "task", "dataset", "metric") if k in keys]
    gains = {}
    for part, table in (("ours", ours), ("reference", reference)):
        rescued = table[table.variant == "rescued"]
        for (s_, k_), point in rescued.groupby(["s", "k"]):
            both = pd.concat([table[table.variant == "baseline"], point])
            for key, by_seed in stats.paired_values(both, gain_keys):
                diff = (by_seed["rescued"] - by_seed["baseline"]).dropna()
                gains.setdefault((*key.values(), s_, k_), {})[part] = diff
    for key, parts in gains.items():
        if "ours" not in parts or "reference" not in parts or parts["ours"].empty:
            continue
        mine, theirs = parts["ours"], parts["reference"]
        low, high = _prediction_bounds(theirs.mean(), theirs.std(ddof=1), len(theirs), len(mine))
        rows.append({"what": "gain", **dict(zip(gain_keys, key[:-2])), "variant": "rescued - baseline", "s": key[-2],
                     "k": key[-1], "ours": mine.mean(), "reference": theirs.mean(), "low": low, "high": high,
                     "n_ours": len(mine), "n_reference": len(theirs)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out.assign(ok=pd.Series(dtype=bool))
    out = out.assign(s=out.s.where(out.s != -1), k=out.k.where(out.k != -1))
    out["difference"] = out.ours - out.reference
    spread = out.n_reference >= 2
    # one reference seed has no spread to read a rerun by: said, not judged
    out["where"] = ["" if s else "no spread: 1 reference seed, not judged" for s in spread]
    out["ok"] = ~spread | ((out.ours >= out.low) & (out.ours <= out.high))
    return out


def cpu_mismatch(ours_path: str | Path, reference_path: str | Path, runs) -> tuple[list[str], list[str]]:
    """The CPU types of our runs (run.json / MANIFEST beside ours; none recorded: this machine's,
    where a rerun is read) and of the reference's same runs (its MANIFEST's parts)."""
    from evaluations.cpu import cpu_types, run_cpus
    from ssl_core.host import cpu_model

    mine = cpu_types(runs, run_cpus(ours_path)) or [cpu_model()]
    theirs = cpu_types(runs, run_cpus(reference_path))
    return mine, theirs
