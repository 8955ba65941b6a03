"""The claims table: one row per claim of the paper, the published value beside ours (mean, 95 %
interval, n over seed pairs), the smallest difference the run resolves (the interval's half-width),
its power (the SD of the paired differences, the effect detected with 80 % power, the pairs needed
for a +-1.0 interval and to detect the published value), the probability of improvement with its
bootstrap interval, and a verdict (evaluations.stats.verdict). Ours comes from the main runs
(group "main"), the sensitivity claims from their sweep's group; a profile without the paper's
architecture answers with its stand-in of the same method and family (``ours_run`` says which).
A row ours did not run says why in ``note``; a sweep row says there what the sweep resolves. Last,
the rows of our methods the paper does not have (source ``beyond the paper``): the same gains,
no published value, the better variant where the interval resolves one. Each linear claim has a
second row, the claim read at s tuned as Sec. 5 tunes it (a tuning profile's confirmation runs at
its selected s and k, evaluations.tuning): the first row answers "does the paper's s, as it is,
help here", the second the paper's claim, "the term with s tuned per method beats the baseline"."""
from __future__ import annotations

import math

import pandas as pd

from evaluations import stats
from evaluations.formatting import tex_escape
from evaluations.results import COLUMNS as COLUMNS_METRICS
from evaluations.results import (ARCH_LABEL, BEYOND, DATASET_LABEL, METHOD_LABEL, TRANSFER_TASK, main_runs, of_group,
                                 ours_for)
from evaluations.table2 import TABLE2_COLUMNS
from evaluations.arch_stand_ins import stand_ins
from ssl_core.config import arch_family

COLUMNS = ["claim", "source", "method", "arch", "published", "ours_run", "ours_mean", "ours_low", "ours_high",
           "ours_n", "resolution", "sd", "detectable", "pairs_for_pm1", "pairs_for_published", "poi", "poi_low",
           "poi_high", "verdict", "note", "ours_values"]
NONE = stats.Interval(float("nan"), float("nan"), float("nan"), 0, "none")
NAN = float("nan")
POWER_NONE = {"sd": NAN, "detectable": NAN, "pairs_for_pm1": NAN, "pairs_for_published": NAN, "poi": NAN,
              "poi_low": NAN, "poi_high": NAN, "ours_values": ""}
TARGET_HALF_WIDTH = 1.0  # pairs_for_pm1: the pairs for a 95 % interval of +-1.0 point


def _family_label(method: str, arch: str) -> str:
    return f"{METHOD_LABEL.get(method, method)} {'ViT' if arch_family(arch) == 'vit' else 'ResNet'}"


def _absent(ours: pd.DataFrame | None, method: str, arch: str, otherwise: str) -> str:
    """Why a claim has no result of ours: the profile has not run, has no run of the method's
    family (``not in this profile``), or ``otherwise`` (it has the runs, not this evaluation)."""
    if ours is None:
        return "not run yet: no metrics.csv of this profile"
    main = main_runs(ours)
    if main[(main.method == method) & (main.arch.map(arch_family) == arch_family(arch))].empty:
        return f"not in this profile: no {_family_label(method, arch)} run"
    return otherwise


def _power(published, iv: stats.Interval, sd: float) -> dict:
    """The power columns of a row from the SD of its paired differences (NaN without one)."""
    numeric = not isinstance(published, str) and published == published
    return {"sd": sd, "detectable": stats.detectable_effect(sd, iv.n),
            "pairs_for_pm1": stats.pairs_for_half_width(TARGET_HALF_WIDTH, sd),
            "pairs_for_published": stats.pairs_for_power(published, sd) if numeric else NAN}


def _direction(iv: stats.Interval) -> str:
    """The verdict of a row without a published value: which variant the paired interval shows to
    be better, if any."""
    if not iv.n:
        return "not run"
    better = stats.better_variant(iv.low, iv.high)
    return f"{better} better" if better else "no difference resolved"


def _row(claim: str, source: str, method: str, arch: str, published: float, iv: stats.Interval, ours_run: str,
         sd: float = NAN, poi: stats.Interval = NONE, values=(), note: str = "") -> dict:
    """``published`` NaN: a row beyond the paper (its verdict: :func:`_direction`)."""
    power = _power(published, iv, sd)
    detectable = power["detectable"] if power["detectable"] == power["detectable"] else None
    beyond = published != published
    verdict = _direction(iv) if beyond else stats.verdict(published, iv, detectable)
    if iv.n and beyond:
        note = note or (f"descriptive: {iv.n} pairs detect {detectable:.2f} with 80 % power"
                        if detectable is not None else f"descriptive: {iv.n} pair(s)")
    elif iv.n and verdict.endswith(stats.UNDERPOWERED) and detectable is not None:  # could not have decided
        needed = power["pairs_for_published"]
        note = note or (f"descriptive: {iv.n} pairs detect {detectable:.2f} with 80 % power, the published gain "
                        f"{published:g} needs {needed:.0f}" if needed == needed else f"descriptive: {iv.n} pairs")
    return {"claim": claim, "source": source, "method": method, "arch": arch, "published": published,
            "ours_run": ours_run if iv.n else "not run", "ours_mean": iv.mean, "ours_low": iv.low, "ours_high": iv.high,
            "ours_n": iv.n, "resolution": iv.half_width, **power, "poi": poi.mean, "poi_low": poi.low,
            "poi_high": poi.high, "verdict": verdict,
            "note": note if not iv.n or beyond or verdict.endswith(stats.UNDERPOWERED) else "",
            "ours_values": ";".join(f"{v:.4f}" for v in values)}


def _gain_claims(pub: pd.DataFrame, gains: pd.DataFrame, match: list[str], source: str, what, why) -> list[dict]:
    """One row per published baseline/rescued pair of ``pub`` (rescued - baseline) and stand-in:
    ours is the paired gain of the rows of ``gains`` (stats.paired_differences with detail) that
    agree on ``match``; ``why(info)``: why there is none."""
    rows = []
    by = ["method", "arch", *match]
    for key, group in pub[pub.variant.isin(stats.PAIR)].groupby(by, sort=False):
        values = group.set_index("variant")["value"]
        if not set(stats.PAIR) <= set(values.index):
            continue
        published = round(values["rescued"] - values["baseline"], 4)  # as printed, without float noise
        info = dict(zip(by, key))
        mine = ours_for(gains, info["method"], info["arch"])
        for col in match:
            mine = mine[mine[col] == info[col]]
        label = f"{METHOD_LABEL.get(info['method'], info['method'])} {ARCH_LABEL.get(info['arch'], info['arch'])}: {what(info)}"
        if mine.empty:
            rows.append(_row(label, source, info["method"], info["arch"], published, NONE, "", note=why(info)))
        for r in mine.itertuples():
            iv = stats.Interval(r.mean, r.ci_low, r.ci_high, int(r.n), r.ci_method)
            poi = stats.Interval(r.poi, r.poi_low, r.poi_high, int(r.n), "bootstrap")
            rows.append(_row(label, source, info["method"], info["arch"], published, iv, f"{r.method} {r.arch} (main)",
                             sd=r.sd, poi=poi, values=r.values))
    return rows


def _beyond_claims(gains: pd.DataFrame, paper_methods: set[str]) -> list[dict]:
    """Our methods the paper does not have (BYOL): per architecture, the rows the paper's methods
    get (the linear top-1 gain, the gain on each of our transfer datasets, the gains in Table 2's
    columns), with source ``beyond the paper``, no published value and, as verdict, the variant the
    paired interval shows to be better (``rescued better`` / ``baseline better``) or ``no
    difference resolved``."""
    keys = gains.set_index(["task", "metric"]).index
    kept = (keys.isin([("linear", "top1")]) | (gains.task == TRANSFER_TASK).to_numpy() | keys.isin(TABLE2_COLUMNS))
    mine = gains[kept & ~gains.method.isin(paper_methods).to_numpy()]
    # as the paper's rows: linear, transfer, then Table 2's columns in the table's order
    order = [0 if t == "linear" else 1 if t == TRANSFER_TASK else 2 + TABLE2_COLUMNS.index((t, m))
             for t, m in zip(mine.task, mine.metric)]
    rows = []
    for r in mine.assign(order=order).sort_values(["method", "arch", "order"], kind="stable").itertuples():
        what = ("linear top-1 gain" if r.task == "linear" else
                f"transfer gain on {DATASET_LABEL.get(r.dataset, r.dataset)}" if r.task == TRANSFER_TASK else
                f"{r.task} {r.metric} gain")
        label = f"{METHOD_LABEL.get(r.method, r.method)} {ARCH_LABEL.get(r.arch, r.arch)}: {what}"
        iv = stats.Interval(r.mean, r.ci_low, r.ci_high, int(r.n), r.ci_method)
        poi = stats.Interval(r.poi, r.poi_low, r.poi_high, int(r.n), "bootstrap")
        rows.append(_row(label, BEYOND, r.method, r.arch, NAN, iv, f"{r.method} {r.arch} (main)", sd=r.sd, poi=poi,
                         values=r.values))
    return rows


def _transfer_missing(gains: pd.DataFrame, dataset: str) -> str:
    """Why a Table 1 dataset has no gain of ours although its method's runs exist."""
    ours = sorted(gains[gains.task == TRANSFER_TASK].dataset.unique())
    name = DATASET_LABEL.get(dataset, dataset)
    if any(not d.startswith("shapes") for d in ours):
        return f"{name} not among this profile's transfer datasets ({', '.join(ours)})"
    return f"needs the real {name}: this profile evaluates generated stand-ins" if ours else \
        "no transfer evaluation of its runs in this profile"


def _transfer_count(table1: pd.DataFrame, gains: pd.DataFrame, ours: pd.DataFrame | None) -> list[dict]:
    """"Rescued beats baseline on n of the N transfer datasets", per method. Ours: on how many of
    our transfer datasets the paired interval excludes 0 above; reproduced where that is a
    majority of them, contradicted where a majority excludes 0 below, else inconclusive."""
    rows = []
    for (method, arch), group in table1[table1.variant.isin(stats.PAIR)].groupby(["method", "arch"], sort=False):
        pivot = group.pivot_table(index="dataset", columns="variant", values="value")
        won, total = int((pivot["rescued"] > pivot["baseline"]).sum()), len(pivot)
        mine = ours_for(gains[gains.task == TRANSFER_TASK], method, arch)
        label = f"{METHOD_LABEL.get(method, method)} {ARCH_LABEL.get(arch, arch)}: rescued beats baseline on n of the transfer datasets"
        row = {"claim": label, "source": "Table 1 / Fig. 4", "method": method, "arch": arch,
               "published": f"{won} of {total}", "resolution": float("nan"), **POWER_NONE, "note": ""}
        if mine.empty:
            rows.append({**row, "ours_run": "not run", "ours_mean": float("nan"), "ours_low": float("nan"),
                         "ours_high": float("nan"), "ours_n": 0, "verdict": "not run",
                         "note": _absent(ours, method, arch, "no transfer evaluation of its runs in this profile")})
            continue
        for arch_ours, g in mine.groupby("arch"):
            up, down, n = int((g.ci_low > 0).sum()), int((g.ci_high < 0).sum()), len(g)
            verdict = "reproduced" if up > n / 2 else "contradicted" if down > n / 2 else "inconclusive"
            rows.append({**row, "ours_run": f"{method} {arch_ours} (main)", "ours_mean": f"{up} of {n}",
                         "ours_low": float("nan"), "ours_high": float("nan"), "ours_n": int(g.n.min()),
                         "resolution": g.half_width.max(), "verdict": verdict})
    return rows


def _sweep_claims(best: pd.DataFrame, ours: pd.DataFrame, sweeps: list[dict], ran: bool = True) -> list[dict]:
    """The best s (k) of each published sweep. The argmax of a few seeds' means resolves nothing,
    so ours is what the sweep can answer: per seed, the paired gain rescued - baseline at each swept
    value (the sweep's own baseline runs of that seed); ``ours_mean`` [``ours_low``,
    ``ours_high``]: the gain at the paper's value (stats.gain_trend, an interval over seeds) and
    ``note``: the slope of the gain per unit of s (per doubling of k) with its interval. The verdict
    tests that rescuing at the paper's value beats the baseline: `reproduced` / `contradicted`
    where the gain's interval excludes 0 above / below, else `inconclusive`; `not run` without a
    sweep of the method, without its baselines, or where the paper's value lies outside our grid."""
    rows = []
    top1 = ours[(ours.task == "linear") & (ours.metric == "top1")]
    for r in best.itertuples():
        param = r.metric.removeprefix("best_")
        other = "k" if param == "s" else "s"
        label = (f"{METHOD_LABEL.get(r.method, r.method)} {ARCH_LABEL.get(r.arch, r.arch)}: best {param} "
                 f"(Fig. {5 if param == 's' else 6})")
        row = {"claim": label, "source": f"Sec. 5, Fig. {5 if param == 's' else 6}", "method": r.method,
               "arch": r.arch, "published": f"{r.value:g}", **POWER_NONE}
        # the paper's architecture if swept, else its stand-ins (the rule of Fig. 2: declared first)
        mine = [s for s in sweeps if s["method"] == r.method]
        answer = stand_ins([s["arch"] for s in mine], r.arch)
        sweep = next((s for s in mine if s["arch"] == r.arch), None) or next(
            (s for s in mine if s["arch"] in answer), None)
        runs = top1.iloc[:0]
        if sweep is not None:
            runs = of_group(top1, sweep["name"], empty_ok=True)
            runs = runs[runs.method == r.method]
        rescued = runs[(runs.variant == "rescued") & (runs[other] == sweep[param][other])] if len(runs) else runs
        base = runs[runs.variant == "baseline"].groupby("seed")["value"].mean() if len(runs) else pd.Series(dtype=float)
        grid = sorted(rescued[param].unique())
        diffs = rescued.pivot_table(index="seed", columns=param, values="value").sub(base, axis=0).dropna(how="all")
        log2 = param == "k"
        slope, gain = stats.gain_trend(diffs, r.value, log2=log2) if len(diffs) and len(grid) > 1 else (NONE, NONE)
        why = ("" if gain.n else _absent(None, r.method, r.arch, "") if not ran else f"not in this profile: no sweep of {_family_label(r.method, r.arch)} that stands in for {ARCH_LABEL.get(r.arch, r.arch)}" if sweep is None
               else "no runs of the sweep in metrics.csv" if rescued.empty
               else "the sweep has no baseline runs" if base.empty
               else f"{param} = {r.value:g} outside our grid ({', '.join(f'{v:g}' for v in grid)})")
        if not gain.n:
            rows.append({**row, "ours_run": "not run", "ours_mean": NAN, "ours_low": NAN, "ours_high": NAN,
                         "ours_n": 0, "resolution": NAN, "verdict": "not run", "note": why})
            continue
        unit = "doubling of k" if log2 else "unit of s"
        trend = ("rises" if slope.sign > 0 else "falls" if slope.sign < 0 else "no resolved trend")
        note = (f"gain vs {param} ({', '.join(f'{v:g}' for v in grid)}; {other} = {sweep[param][other]:g}): slope "
                f"{slope.mean:+.2f} [{slope.low:+.2f}, {slope.high:+.2f}] per {unit}, n = {slope.n}: "
                + (f"the gain {trend} with {param}" if slope.sign else f"{trend} (the argmax is not resolved)"))
        at = diffs[r.value].dropna() if r.value in diffs.columns else pd.Series(dtype=float)
        poi = (stats.improvement_interval(rescued[rescued[param] == r.value].groupby("seed")["value"].mean(), base)
               if len(at) else NONE)
        sd = float(at.std(ddof=1)) if len(at) > 1 else NAN
        rows.append({**row, **_power(NAN, gain, sd), "ours_run": f"{sweep['method']} {sweep['arch']} (sweep "
                     f"{sweep['name']}): gain at {param} = {r.value:g}" + ("" if len(at) else " (line)"),
                     "ours_mean": gain.mean, "ours_low": gain.low, "ours_high": gain.high, "ours_n": gain.n,
                     "resolution": gain.half_width, "poi": poi.mean, "poi_low": poi.low, "poi_high": poi.high,
                     "verdict": {1: "reproduced", -1: "contradicted", 0: "inconclusive"}[gain.sign], "note": note,
                     "ours_values": ";".join(f"{v:.4f}" for v in at)})
    return rows


def _cosine_claim(paper: pd.DataFrame, cosine: pd.DataFrame | None) -> dict:
    """Sec. 3: strong views are less similar to common views than common views to each other
    (published: common - strong > 0). Ours: one encoder; the interval is over the images, paired by
    image (``diff_sd``: the std of the per-image difference; without it, n = 1 and no interval)."""
    published = paper.set_index("run")["value"]
    diff = round(published["paper-cosine-common"] - published["paper-cosine-strong"], 4)
    iv = NONE
    if cosine is not None:
        ours = cosine.set_index("views")["ours"]
        mean, n = ours["common"] - ours["strong"], int(cosine.n_images.iloc[0])
        sd = float(cosine.diff_sd.iloc[0]) if "diff_sd" in cosine.columns else float("nan")
        iv = stats.t_interval(mean, sd, n) if n > 1 and sd == sd else stats.interval([mean])
        sd = sd if n > 1 else NAN
    encoder = "" if cosine is None else str(cosine.our_encoder.iloc[0])
    return _row("mean cosine: common-common minus common-strong views", "Sec. 3", "", "resnet50", diff, iv, encoder,
                sd=sd if cosine is not None else NAN, note="no cosine study (tables/cosine_study.csv) given")


TUNED = " (s tuned as in Sec. 5)"  # the claim of a row read at the tuned s
TUNED_SOURCE = "Fig. 2, s tuned (Sec. 5)"
TUNED_NONE = ("no tuning profile given: the linear claim at s tuned as Sec. 5 tunes it needs a tuning profile's "
              "confirmation runs (config/tuning.yaml; claims --tuned results/reference/tuning)")


def tuned_runs(tuned: pd.DataFrame, selection: dict) -> pd.DataFrame:
    """The confirmation runs of a tuning profile (its main runs) at each method's selected (s, k):
    every baseline, the rescued runs of a (method, arch) in ``selection`` at its s and k only."""
    main = main_runs(tuned)
    keep = main.variant != "rescued"
    for (method, arch), pick in selection.items():
        keep |= ((main.method == method) & (main.arch == arch) & (main.variant == "rescued")
                 & (main.s == pick["s"]) & (main.k == pick["k"]))
    return main[keep]


def _tuned_absent(tuned: pd.DataFrame, selection: dict, method: str, arch: str) -> str:
    """Why a tuned row has no result: the tuning profile has no run of the method's family, its grid
    has no selection yet, its confirmation runs are not in, or they have no linear probe."""
    family = tuned[(tuned.method == method) & (tuned.arch.map(arch_family) == arch_family(arch))]
    if family.empty:  # its grid not run yet, or not in the tuning profile at all
        return f"no {_family_label(method, arch)} run in the tuning profile's results"
    picks = [p for (m, a), p in selection.items() if m == method and arch_family(a) == arch_family(arch)]
    if not picks:
        return "not run yet: its tuning grid is not complete (no s and k selected)"
    if main_runs(family).empty:
        return f"not run yet: no confirmation runs at the selected s = {picks[0]['s']:g}, k = {picks[0]['k']}"
    return "no linear probe of its confirmation runs"


def _tuned_claims(fig2: pd.DataFrame, tuned: pd.DataFrame | None, selection: dict | None, why: str) -> list[dict]:
    """The Fig. 2 linear claims read at s tuned as in Sec. 5: one row per claim (``claim`` + TUNED,
    source TUNED_SOURCE), ours the paired gain of the tuning profile's confirmation runs at the
    selected (s, k), which ``ours_run`` names; without them, ``not run`` and ``why``."""
    if tuned is None or not selection:
        gains = stats.paired_differences(pd.DataFrame(columns=COLUMNS_METRICS), detail=True)
    else:
        gains = stats.paired_differences(tuned_runs(tuned, selection), detail=True)
        gains = gains[gains.task == "linear"]
    rows = _gain_claims(fig2, gains, [], TUNED_SOURCE, lambda i: "linear top-1 gain" + TUNED,
                        lambda i: why if tuned is None or not selection else
                        _tuned_absent(tuned, selection, i["method"], i["arch"]))
    for row in rows:
        pick = (selection or {}).get((row["method"], row["ours_run"].split(" ")[1] if row["ours_n"] else ""))
        if row["ours_n"] and pick:
            row["ours_run"] = row["ours_run"].replace("(main)", f"(confirmation): s = {pick['s']:g}, k = {pick['k']}")
    return rows


def _interleave(rows: list[dict], tuned: list[dict]) -> list[dict]:
    """Each claim's tuned rows right after its rows at the paper's s."""
    out = []
    for i, row in enumerate(rows):
        out.append(row)
        if i == len(rows) - 1 or rows[i + 1]["claim"] != row["claim"]:
            out += [t for t in tuned if t["claim"] == row["claim"] + TUNED]
    return out


def read_tuned(folder) -> tuple[pd.DataFrame | None, dict | None, str]:
    """A tuning profile's results or reference (``folder``): its metrics.csv, the selection of
    tables/tuning_selection.json as (method, arch) -> pick, and why there are none."""
    import json
    from pathlib import Path

    from evaluations.results import read_metrics

    folder = Path(folder)
    metrics, selection = folder / "metrics.csv", folder / "tables" / "tuning_selection.json"
    if not metrics.is_file() or not selection.is_file():
        return None, None, (f"not run yet: no confirmation runs in {folder} ({metrics.name} and tables/{selection.name}): "
                            "config/tuning.yaml tunes s, then >= 24 fresh seeds at the selected s and k")
    picks = json.loads(selection.read_text())["selection"]
    return read_metrics(metrics), {(p["method"], p["arch"]): p for p in picks.values()}, ""


def claims_table(ours: pd.DataFrame | None, paper: dict[str, pd.DataFrame], sweeps: list[dict],
                 cosine: pd.DataFrame | None = None, dense_status: str = "",
                 dense_left_out: dict[str, str] | None = None, tuned: pd.DataFrame | None = None,
                 selection: dict | None = None, tuned_why: str = TUNED_NONE) -> pd.DataFrame:
    """``paper``: the frames of results/paper (fig2_linear, text_claims, table1_transfer,
    table2_dense, sensitivity_best, cosine_study); ``ours`` None: a profile not run yet;
    ``dense_status``: why the profile has no Table 2 results, as the DAG knows it (e.g. "not run:
    Detectron2 not installed"); ``dense_left_out``: backbone family -> why the profile leaves it out
    of Table 2 (the config's ``eval.dense.left_out``), the note of that family's rows. Each linear
    claim of Fig. 2 is read twice: at the paper's s (``ours``' main runs) and at s tuned as in Sec. 5
    (``tuned``: a tuning profile's metrics, its main runs the confirmation at ``selection``'s
    (method, arch) -> {"s", "k"}; none: ``not run`` and ``tuned_why``)."""
    given = ours
    ours = pd.DataFrame(columns=COLUMNS_METRICS) if ours is None else ours
    gains = stats.paired_differences(main_runs(ours), detail=True)
    fig2 = paper["fig2_linear"]
    fig2 = fig2[(fig2.task == "linear") & (fig2.metric == "top1")]
    text = paper["text_claims"].set_index(["method", "arch"])["value"]
    linear, why = gains[gains.task == "linear"], "no linear probe of its runs"
    if tuned is not None and tuned is given and selection:  # a tuning profile: its main runs are at the tuned s
        linear = linear.iloc[:0]
        why = "a tuning profile: its main runs are the confirmation at the tuned s (the paper's s: the verdict profile)"
    rows = _gain_claims(fig2, linear, [], "Fig. 2", lambda i: "linear top-1 gain",
                        lambda i: _absent(given, i["method"], i["arch"], why))
    for row in rows:  # the gains the text states (Sec. 4.1) are the table's differences
        stated = text.get((row["method"], row["arch"]))
        if stated is not None and not math.isclose(stated, row["published"], abs_tol=0.05):
            raise ValueError(f"text claim {stated} != Fig. 2 difference {row['published']} ({row['claim']})")
    rows = _interleave(rows, _tuned_claims(fig2, tuned, selection, tuned_why))
    t1 = paper["table1_transfer"]
    rows += _gain_claims(t1, gains[gains.task == TRANSFER_TASK], ["dataset"], "Table 1",
                         lambda i: f"transfer gain on {DATASET_LABEL.get(i['dataset'], i['dataset'])}",
                         lambda i: _absent(given, i["method"], i["arch"], _transfer_missing(gains, i["dataset"])))
    rows += _transfer_count(t1, gains, given)
    t2 = paper["table2_dense"]
    t2 = t2[t2.set_index(["task", "metric"]).index.isin(TABLE2_COLUMNS)]
    dense_why = (dense_status.removeprefix("not run: ") if dense_status.startswith("not run: ")
                 else "not in this profile: no dense evaluation")
    left_out = {family: f"not in this profile: {why}" for family, why in (dense_left_out or {}).items()}
    rows += _gain_claims(t2, gains, ["task", "metric"], "Table 2", lambda i: f"{i['task']} {i['metric']} gain",
                         lambda i: _absent(given, i["method"], i["arch"],
                                           left_out.get(arch_family(i["arch"]), dense_why)))
    rows += _sweep_claims(paper["sensitivity_best"], ours, sweeps, ran=given is not None)
    rows.append(_cosine_claim(paper["cosine_study"], cosine))
    rows += _beyond_claims(gains, set(fig2.method) | set(t1.method) | set(t2.method))
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(value, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    return "--" if pd.isna(value) else f"{value:+.{digits}f}"


def _pairs(value) -> str:
    return "--" if pd.isna(value) else f"{int(value)}"


def claims_latex(table: pd.DataFrame, profile: str) -> str:
    lines = [r"\begin{longtable}{llrlrrrrrl}", r"\toprule",
             rf"Claim & Source & Published & Ours ({tex_escape(profile)}): run & Mean [95 \% CI], n & Resolves & "
             r"Detects & Pairs $\pm$1 / pub. & $P$(improve) & Verdict \\",
             r"\midrule"]
    for r in table.itertuples():
        ours = "--" if r.ours_n == 0 else (
            _num(r.ours_mean) + ("" if pd.isna(r.ours_low) else f" [{_num(r.ours_low)}, {_num(r.ours_high)}]")
            + f", n = {r.ours_n}")
        run = r.ours_run if r.ours_n or not r.note else f"not run: {r.note}"
        poi = "--" if pd.isna(r.poi) else f"{r.poi:.2f}" + ("" if pd.isna(r.poi_low) else f" [{r.poi_low:.2f}, {r.poi_high:.2f}]")
        lines.append(" & ".join(tex_escape(x) for x in (
            r.claim, r.source, _num(r.published), run, ours,
            "--" if pd.isna(r.resolution) else f"{r.resolution:.2f}",
            "--" if pd.isna(r.detectable) else f"{r.detectable:.2f}",
            f"{_pairs(r.pairs_for_pm1)} / {_pairs(r.pairs_for_published)}", poi, r.verdict)) + r" \\")
    lines += [r"\bottomrule", r"\end{longtable}", ""]
    return "\n".join(lines)
