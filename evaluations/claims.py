"""The claims table: one row per claim of the paper, the published value beside ours (mean, 95 %
interval, n over seed pairs), the smallest difference the run resolves (the interval's half-width)
and a verdict (evaluations.stats.verdict). Ours comes from the main runs (group "main"), the
sensitivity claims from their sweep's group; a profile without the paper's architecture answers
with its stand-in of the same method and family (``ours_run`` says which)."""
from __future__ import annotations

import math

import pandas as pd

from evaluations import stats
from evaluations.report import COLUMNS as COLUMNS_METRICS
from evaluations.report import ARCH_LABEL, DATASET_LABEL, METHOD_LABEL, TABLE2_COLUMNS, TRANSFER_TASK, _tex, main_runs
from evaluations.report import of_group
from ssl_core.config import arch_family

COLUMNS = ["claim", "source", "method", "arch", "published", "ours_run", "ours_mean", "ours_low", "ours_high",
           "ours_n", "resolution", "verdict"]
NONE = stats.Interval(float("nan"), float("nan"), float("nan"), 0, "none")


def _stand_ins(gains: pd.DataFrame, method: str, arch: str) -> pd.DataFrame:
    """Our comparisons for a published (method, arch): that arch, else those of the same family."""
    mine = gains[gains.method == method]
    exact = mine[mine.arch == arch]
    return exact if len(exact) else mine[mine.arch.map(arch_family) == arch_family(arch)]


def _row(claim: str, source: str, method: str, arch: str, published: float, iv: stats.Interval, ours_run: str) -> dict:
    return {"claim": claim, "source": source, "method": method, "arch": arch, "published": published,
            "ours_run": ours_run if iv.n else "not run", "ours_mean": iv.mean, "ours_low": iv.low, "ours_high": iv.high,
            "ours_n": iv.n, "resolution": iv.half_width, "verdict": stats.verdict(published, iv)}


def _gain_claims(pub: pd.DataFrame, gains: pd.DataFrame, match: list[str], source: str, what) -> list[dict]:
    """One row per published baseline/rescued pair of ``pub`` (rescued - baseline) and stand-in:
    ours is the paired gain of the rows of ``gains`` that agree on ``match``."""
    rows = []
    by = ["method", "arch", *match]
    for key, group in pub[pub.variant.isin(stats.PAIR)].groupby(by, sort=False):
        values = group.set_index("variant")["value"]
        if not set(stats.PAIR) <= set(values.index):
            continue
        published = round(values["rescued"] - values["baseline"], 4)  # as printed, without float noise
        info = dict(zip(by, key))
        mine = _stand_ins(gains, info["method"], info["arch"])
        for col in match:
            mine = mine[mine[col] == info[col]]
        label = f"{METHOD_LABEL.get(info['method'], info['method'])} {ARCH_LABEL.get(info['arch'], info['arch'])}: {what(info)}"
        if mine.empty:
            rows.append(_row(label, source, info["method"], info["arch"], published, NONE, ""))
        for r in mine.itertuples():
            iv = stats.Interval(r.mean, r.ci_low, r.ci_high, int(r.n), r.ci_method)
            rows.append(_row(label, source, info["method"], info["arch"], published, iv, f"{r.method} {r.arch} (main)"))
    return rows


def _transfer_count(table1: pd.DataFrame, gains: pd.DataFrame) -> list[dict]:
    """"Rescued beats baseline on n of the N transfer datasets", per method. Ours: on how many of
    our transfer datasets the paired interval excludes 0 above; reproduced where that is a
    majority of them, contradicted where a majority excludes 0 below, else inconclusive."""
    rows = []
    for (method, arch), group in table1[table1.variant.isin(stats.PAIR)].groupby(["method", "arch"], sort=False):
        pivot = group.pivot_table(index="dataset", columns="variant", values="value")
        won, total = int((pivot["rescued"] > pivot["baseline"]).sum()), len(pivot)
        mine = _stand_ins(gains[gains.task == TRANSFER_TASK], method, arch)
        label = f"{METHOD_LABEL.get(method, method)} {ARCH_LABEL.get(arch, arch)}: rescued beats baseline on n of the transfer datasets"
        row = {"claim": label, "source": "Table 1 / Fig. 4", "method": method, "arch": arch,
               "published": f"{won} of {total}", "resolution": float("nan")}
        if mine.empty:
            rows.append({**row, "ours_run": "not run", "ours_mean": float("nan"), "ours_low": float("nan"),
                         "ours_high": float("nan"), "ours_n": 0, "verdict": "not run"})
            continue
        for arch_ours, g in mine.groupby("arch"):
            up, down, n = int((g.ci_low > 0).sum()), int((g.ci_high < 0).sum()), len(g)
            verdict = "reproduced" if up > n / 2 else "contradicted" if down > n / 2 else "inconclusive"
            rows.append({**row, "ours_run": f"{method} {arch_ours} (main)", "ours_mean": f"{up} of {n}",
                         "ours_low": float("nan"), "ours_high": float("nan"), "ours_n": int(g.n.min()),
                         "resolution": g.half_width.max(), "verdict": verdict})
    return rows


def _sweep_claims(best: pd.DataFrame, ours: pd.DataFrame, sweeps: list[dict]) -> list[dict]:
    """The best s (k) of each published sweep. Ours: the value of our sweep with the highest mean
    linear top-1, and the paired difference (by seed) of that value's runs over the published
    value's runs (or over the runner-up where they are the same value): reproduced where ours is the
    published value and beats the runner-up, contradicted where another value beats the published
    one, both with intervals excluding 0; not run without a sweep of the method or where our grid
    lacks the published value."""
    rows = []
    top1 = ours[(ours.task == "linear") & (ours.metric == "top1") & (ours.variant == "rescued")]
    for r in best.itertuples():
        param = r.metric.removeprefix("best_")
        other = "k" if param == "s" else "s"
        label = (f"{METHOD_LABEL.get(r.method, r.method)} {ARCH_LABEL.get(r.arch, r.arch)}: best {param} "
                 f"(Fig. {5 if param == 's' else 6})")
        row = {"claim": label, "source": f"Sec. 5, Fig. {5 if param == 's' else 6}", "method": r.method,
               "arch": r.arch, "published": f"{r.value:g}"}
        sweep = next((s for s in sweeps if s["method"] == r.method
                      and arch_family(s["arch"]) == arch_family(r.arch)), None)
        runs = top1.iloc[:0]
        if sweep is not None:
            runs = of_group(top1, sweep["name"], empty_ok=True)
            runs = runs[(runs.method == r.method) & (runs[other] == sweep[param][other])]
        means = runs.groupby(param)["value"].mean().sort_values(ascending=False)
        if means.empty or r.value not in means.index:
            why = "not run" if means.empty else f"not run: {param} = {r.value:g} not in our grid"
            rows.append({**row, "ours_run": why, "ours_mean": float("nan"), "ours_low": float("nan"),
                         "ours_high": float("nan"), "ours_n": 0, "resolution": float("nan"), "verdict": "not run"})
            continue
        winner = means.index[0]
        rival = r.value if winner != r.value else (means.index[1] if len(means) > 1 else None)
        seeds = runs.pivot_table(index="seed", columns=param, values="value")
        iv = stats.interval(seeds[winner] - seeds[rival]) if rival is not None else stats.interval([])
        verdict = ("inconclusive" if iv.sign == 0 else "reproduced" if winner == r.value else "contradicted")
        rows.append({**row, "ours_run": f"{sweep['method']} {sweep['arch']} (sweep {sweep['name']}): best {winner:g}"
                     + (f" vs {rival:g}" if rival is not None else ""), "ours_mean": iv.mean, "ours_low": iv.low,
                     "ours_high": iv.high, "ours_n": iv.n, "resolution": iv.half_width,
                     "verdict": verdict if iv.n else "not run"})
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
    encoder = "" if cosine is None else str(cosine.our_encoder.iloc[0])
    return _row("mean cosine: common-common minus common-strong views", "Sec. 3", "", "resnet50", diff, iv, encoder)


def claims_table(ours: pd.DataFrame | None, paper: dict[str, pd.DataFrame], sweeps: list[dict],
                 cosine: pd.DataFrame | None = None) -> pd.DataFrame:
    """``paper``: the frames of results/paper (fig2_linear, text_claims, table1_transfer,
    table2_dense, sensitivity_best, cosine_study); ``ours`` None: a profile not run yet."""
    ours = pd.DataFrame(columns=COLUMNS_METRICS) if ours is None else ours
    gains = stats.paired_differences(main_runs(ours))
    fig2 = paper["fig2_linear"]
    fig2 = fig2[(fig2.task == "linear") & (fig2.metric == "top1")]
    text = paper["text_claims"].set_index(["method", "arch"])["value"]
    rows = _gain_claims(fig2, gains[gains.task == "linear"], [], "Fig. 2", lambda i: "linear top-1 gain")
    for row in rows:  # the gains the text states (Sec. 4.1) are the table's differences
        stated = text.get((row["method"], row["arch"]))
        if stated is not None and not math.isclose(stated, row["published"], abs_tol=0.05):
            raise ValueError(f"text claim {stated} != Fig. 2 difference {row['published']} ({row['claim']})")
    t1 = paper["table1_transfer"]
    rows += _gain_claims(t1, gains[gains.task == TRANSFER_TASK], ["dataset"], "Table 1",
                         lambda i: f"transfer gain on {DATASET_LABEL.get(i['dataset'], i['dataset'])}")
    rows += _transfer_count(t1, gains)
    t2 = paper["table2_dense"]
    t2 = t2[t2.set_index(["task", "metric"]).index.isin(TABLE2_COLUMNS)]
    rows += _gain_claims(t2, gains, ["task", "metric"], "Table 2", lambda i: f"{i['task']} {i['metric']} gain")
    rows += _sweep_claims(paper["sensitivity_best"], ours, sweeps)
    rows.append(_cosine_claim(paper["cosine_study"], cosine))
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(value, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    return "--" if pd.isna(value) else f"{value:+.{digits}f}"


def claims_latex(table: pd.DataFrame, profile: str) -> str:
    lines = [r"\begin{longtable}{llrlrrl}", r"\toprule",
             rf"Claim & Source & Published & Ours ({_tex(profile)}): run & Mean [95 \% CI], n & Resolves & Verdict \\",
             r"\midrule"]
    for r in table.itertuples():
        ours = "--" if r.ours_n == 0 else (
            _num(r.ours_mean) + ("" if pd.isna(r.ours_low) else f" [{_num(r.ours_low)}, {_num(r.ours_high)}]")
            + f", n = {r.ours_n}")
        lines.append(" & ".join(_tex(x) for x in (
            r.claim, r.source, _num(r.published), r.ours_run, ours,
            "--" if pd.isna(r.resolution) else f"{r.resolution:.2f}", r.verdict)) + r" \\")
    lines += [r"\bottomrule", r"\end{longtable}", ""]
    return "\n".join(lines)
