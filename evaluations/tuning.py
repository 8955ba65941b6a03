"""The paper's Sec. 5 protocol at CPU scale: s tuned per method on the linear probe, then the
verdict read on fresh seeds (config/tuning.yaml; docs/protocols.md, "Tuning s as Sec. 5 does").

The paper tunes s per method (Fig. 5) and says it cannot be carried over between losses of other
amplitudes (Secs. 5-6); the CPU profiles change that amplitude (SimCLR's temperature 0.5 against
0.1) and keep s. A tuning profile names the runs of its grid by a group (``tuning.group``: every
grid point a rescued run per seed, each paired with the baseline of the same seed) and the rule
that picks (s, k) from them (``tuning.rule``), written before any tuning run. This module reads
those runs (a metrics.csv, or the finished runs' JSONs), tabulates per (method, arch, s, k) the
paired gain rescued - baseline with its 95 % interval (evaluations.stats) and the number of
rescued runs flagged collapsed, and applies the rule:

``largest_paired_mean``: at the grid's k (the k with the most values of s), the s of the largest
paired mean gain, ties to the smaller s; then, at that s, the k of the largest paired mean, ties to
the smaller k. Means are compared as metrics.csv writes them (4 decimals), so a tie is a tie.

The confirmation runs are the profile's main experiments at the selected (s, k) on fresh seeds;
:func:`check_main_experiments` says where they are not.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluations import stats
from evaluations.formatting import tex_escape
from evaluations.results import ARCH_LABEL, METHOD_LABEL, aggregate, of_group, read_metrics
from ssl_core.config import MAIN_GROUP, load_config, run_groups, run_matrix
from ssl_core.io import write_json

RULES = ("largest_paired_mean",)
DECIMALS = 4  # as metrics.csv writes its values: equal means there are a tie
COLUMNS = ["method", "arch", "s", "k", "n", "mean", "ci_low", "ci_high", "half_width", "sd", "collapsed",
           "n_rescued", "baseline_mean", "rescued_mean", "selected"]


class TuningError(ValueError):
    """Tuning runs that cannot be read or selected from; one line."""


def tuning_table(metrics: pd.DataFrame, group: str) -> pd.DataFrame:
    """Per (method, arch, s, k) of the rescued runs of ``group``: the paired linear top-1 gain
    rescued - baseline (the same seed's baseline of the group; seeds with both only), its 95 %
    interval, SD and n, the rescued runs flagged collapsed of ``n_rescued``, and both variants'
    mean top-1 over the paired seeds."""
    rows = of_group(metrics, group)
    top1 = rows[(rows.task == "linear") & (rows.metric == "top1")]
    collapsed = rows[(rows.task == "pretrain") & (rows.metric == "collapsed")].set_index("run")["value"]
    out = []
    for (method, arch), mine in top1.groupby(["method", "arch"], sort=True):
        base = mine[mine.variant == "baseline"]
        rescued = mine[mine.variant == "rescued"]
        for (s, k), point in rescued.groupby(["s", "k"], sort=True):
            pairs = pd.concat([base, point])
            diff = stats.paired_differences(pairs, keys=["method", "arch"], detail=True)
            runs = point.run.unique()
            n_collapsed = int((collapsed.reindex(runs) > 0).sum())
            if diff.empty:
                d = {"n": 0, "mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                     "half_width": float("nan"), "sd": float("nan")}
                levels = (float("nan"), float("nan"))
            else:
                d = diff.iloc[0].to_dict()
                by_seed = next(stats.paired_values(pairs, keys=["method", "arch"]))[1]
                levels = (float(by_seed["baseline"].mean()), float(by_seed["rescued"].mean()))
            out.append({"method": method, "arch": arch, "s": float(s), "k": int(k), "n": int(d["n"]),
                        "mean": d["mean"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
                        "half_width": d["half_width"], "sd": d["sd"], "collapsed": n_collapsed,
                        "n_rescued": len(runs), "baseline_mean": levels[0], "rescued_mean": levels[1],
                        "selected": False})
    return pd.DataFrame(out, columns=COLUMNS)


def grid_k(points: pd.DataFrame) -> int:
    """The k the s grid was run at: the k with the most values of s (ties: the smaller k)."""
    counts = points.groupby("k").s.nunique()
    return int(counts[counts == counts.max()].index.min())


def _best(points: pd.DataFrame, param: str) -> float:
    """The ``param`` value of the largest paired mean (rounded to DECIMALS), ties to the smaller."""
    run = points[points.n > 0]
    if run.empty:
        raise TuningError("no grid point has a paired gain (no rescued run with its seed's baseline)")
    means = run["mean"].round(DECIMALS)
    return float(run[means == means.max()][param].min())


def rescue_of(config: dict, exp: dict) -> tuple[float, int]:
    """(s, k) of an experiment: its own ``rescue`` over its method's."""
    rescue = {**config["methods"][exp["method"]]["rescue"], **exp.get("rescue", {})}
    return float(rescue["s"]), int(rescue["k"])


def grid_of(config: dict) -> dict[tuple[str, str], dict[tuple[float, int], int]]:
    """(method, arch) -> {(s, k): paired seeds} of the config's tuning grid (its group's rescued runs)."""
    group, grid = config["tuning"]["group"], {}
    for exp in config["experiments"]:
        if exp.get("group") == group and "rescued" in exp["variants"]:
            grid.setdefault((exp["method"], exp["arch"]), {})[rescue_of(config, exp)] = len(exp["seeds"])
    return grid


def incomplete(table: pd.DataFrame, grid: dict) -> dict[tuple[str, str], str]:
    """(method, arch) -> "n of N pairs" for each grid of ``grid`` (:func:`grid_of`) with a point short
    of its paired seeds in ``table``: the rule selects from a complete grid only."""
    out = {}
    for key, points in grid.items():
        mine = table[(table.method == key[0]) & (table.arch == key[1])]
        have = {(float(s), int(k)): int(n) for s, k, n in zip(mine.s, mine.k, mine.n)}
        done = sum(min(have.get(point, 0), n) for point, n in points.items())
        if done < sum(points.values()):
            out[key] = f"{done} of {sum(points.values())} pairs"
    return out


def select(table: pd.DataFrame, rule: str = "largest_paired_mean",
           grid: dict | None = None) -> dict[tuple[str, str], dict]:
    """(method, arch) -> the selected {"s", "k", "grid_k", "mean", "ci_low", "ci_high", "n",
    "rule"} by ``rule``; ``table`` is :func:`tuning_table`'s. With ``grid`` (:func:`grid_of`), only
    the methods whose grid is complete (every point at all its paired seeds) are selected."""
    if rule not in RULES:
        raise TuningError(f"tuning.rule {rule!r} is not one of {', '.join(RULES)}")
    picks, pending = {}, incomplete(table, grid) if grid is not None else {}
    for (method, arch), points in table.groupby(["method", "arch"], sort=True):
        if (method, arch) in pending:
            continue
        k0 = grid_k(points)
        s = _best(points[points.k == k0], "s")
        k = int(_best(points[points.s == s], "k"))
        row = points[(points.s == s) & (points.k == k)].iloc[0]
        picks[(method, arch)] = {"method": method, "arch": arch, "s": s, "k": k, "grid_k": k0, "rule": rule,
                                 "mean": float(row["mean"]), "ci_low": float(row.ci_low),
                                 "ci_high": float(row.ci_high), "n": int(row.n)}
    return picks


def mark_selected(table: pd.DataFrame, picks: dict) -> pd.DataFrame:
    out = table.copy()
    out["selected"] = [(m, a) in picks and picks[(m, a)]["s"] == s and picks[(m, a)]["k"] == k
                       for m, a, s, k in zip(out.method, out.arch, out.s, out.k)]
    return out


def check_main_experiments(config: dict, picks: dict) -> list[str]:
    """Where the config's main experiments (the confirmation runs) are not at the selected (s, k),
    or reuse a tuning seed: one line each (none: they are)."""
    group = config["tuning"]["group"]
    tuned_seeds = {(e["method"], e["arch"]): set(e["seeds"]) for e in config["experiments"] if e.get("group") == group}
    problems = []
    confirmed = {(e["method"], e["arch"]) for e in config["experiments"]
                 if e.get("group", MAIN_GROUP) == MAIN_GROUP and "rescued" in e["variants"]}
    problems += [f"{m} {a}: no main experiment (the confirmation runs) yet" for m, a in sorted(set(picks) - confirmed)]
    for exp in config["experiments"]:
        if exp.get("group", MAIN_GROUP) != MAIN_GROUP or "rescued" not in exp["variants"]:
            continue
        pick = picks.get((exp["method"], exp["arch"]))
        if pick is None:
            continue
        s, k = rescue_of(config, exp)
        if (s, k) != (pick["s"], pick["k"]):
            problems.append(f"{exp['method']} {exp['arch']}: main experiments at s = {s:g}, k = {k}; "
                            f"the rule picks s = {pick['s']:g}, k = {pick['k']}")
        reused = sorted(set(exp["seeds"]) & tuned_seeds.get((exp["method"], exp["arch"]), set()))
        if reused:
            problems.append(f"{exp['method']} {exp['arch']}: confirmation seeds {reused} were used in tuning")
    return problems


def read_tuning_runs(config: dict, results: str | Path) -> tuple[pd.DataFrame, str]:
    """The tuning group's rows and where they came from: the finished runs under ``results``
    (pretrain/<run>/run.json with eval/linear/<run>.json, aggregated here; a profile still
    running), else ``results``/metrics.csv (a committed reference)."""
    from evaluations.interim import finished_runs

    results = Path(results)
    group = config["tuning"]["group"]
    if (results / "pretrain").is_dir():
        runs = run_matrix(config)
        done = [r for r in finished_runs(runs, results) if group in runs[r]["groups"]]
        if not done:
            raise TuningError(f"no finished run of group {group!r} under {results}/pretrain (and eval/linear)")
        groups = {r: g for r, g in run_groups(runs).items() if r in done}
        metrics = aggregate([results / "pretrain" / r / "run.json" for r in done],
                            [results / "eval" / "linear" / f"{r}.json" for r in done], groups)
        return metrics, f"{len(done)} finished runs under {results}"
    path = results / "metrics.csv"
    if not path.is_file():
        raise TuningError(f"{results} has neither pretrain/ (a profile's results) nor metrics.csv (a reference)")
    return read_metrics(path), str(path)


def tuning_latex(table: pd.DataFrame, profile: str) -> str:
    lines = [r"\begin{tabular}{llrrrlrl}", r"\toprule",
             rf"Method & Arch & $s$ & $k$ & n & Paired gain [95 \% CI] ({tex_escape(profile)}) & Collapsed & Selected \\",
             r"\midrule"]
    for r in table.itertuples():
        gain = "--" if not r.n else f"{r.mean:+.2f}" + ("" if pd.isna(r.ci_low) else f" [{r.ci_low:+.2f}, {r.ci_high:+.2f}]")
        lines.append(" & ".join(tex_escape(str(x)) for x in (
            METHOD_LABEL.get(r.method, r.method), ARCH_LABEL.get(r.arch, r.arch), f"{r.s:g}", r.k, r.n, gain,
            f"{r.collapsed} of {r.n_rescued}", "yes" if r.selected else "")) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def run_tuning(configfile: str | Path, results: str | Path, cpus: dict[str, str] | None = None,
               drop_mixed_cpu: bool = False) -> tuple[pd.DataFrame, dict, list[str]]:
    """Table, selection and report lines of a tuning profile; writes ``results``/tables/tuning.{csv,tex}
    and tables/tuning_selection.json."""
    from evaluations.cpu import run_cpus, same_cpu_pairs
    from evaluations.formatting import write_table

    config = load_config(configfile)
    if "tuning" not in config:
        raise TuningError(f"{configfile} has no `tuning` section (group, rule): not a tuning profile")
    metrics, source = read_tuning_runs(config, results)
    cpus = run_cpus(Path(results) / "metrics.csv") if cpus is None else cpus
    metrics, note = same_cpu_pairs(metrics, cpus, drop=drop_mixed_cpu, source=source)
    table = tuning_table(metrics, config["tuning"]["group"])
    grid = grid_of(config)
    pending = incomplete(table, grid)
    picks = select(table, config["tuning"]["rule"], grid)
    table = mark_selected(table, picks)
    tables = Path(results) / "tables"
    write_table(table, tuning_latex(table, config["profile"]), tables / "tuning")
    selection = {f"{m} {a}": p for (m, a), p in picks.items()}
    write_json(tables / "tuning_selection.json", {"source": source, "group": config["tuning"]["group"],
                                                  "selection": selection, "note": note})
    lines = [f"tuning group {config['tuning']['group']!r} from {source}" + (f" ({note})" if note else "")]
    shown = table.drop(columns=["half_width"]).assign(s=table["s"].map(lambda v: f"{v:g}"))  # 0.015, not 0.01
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for p in picks.values():
        lines.append(f"selected ({p['rule']}): {p['method']} {p['arch']} s = {p['s']:g}, k = {p['k']} "
                     f"(grid at k = {p['grid_k']}): {p['mean']:+.2f} [{p['ci_low']:+.2f}, {p['ci_high']:+.2f}], n = {p['n']}")
    lines += [f"not selected yet: {m} {a}: {done} finished (the rule selects from the complete grid)"
              for (m, a), done in sorted(pending.items()) if (table.method == m).any()]
    problems = check_main_experiments(config, picks)
    lines += [f"confirmation: {p}" for p in problems] or [
        "confirmation: the main experiments are at the selected (s, k)" if picks else "confirmation: nothing selected yet"]
    return table, picks, lines


def selection_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
