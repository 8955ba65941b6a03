"""metrics.csv, the results table every table and figure reads: its columns, how it is made
(``aggregate``), written and read, its groups of runs, the labels of its methods, architectures and
datasets, and which of our rows answer a published row (``ours_for``)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluations.arch_stand_ins import stand_ins
from ssl_core.config import MAIN_GROUP, arch_family
from ssl_core.io import atomic_path
from ssl_core.methods import method_labels

COLUMNS = ["run", "group", "method", "arch", "variant", "s", "k", "seed", "task", "dataset", "metric", "value"]
# The suite's methods (ssl_core.methods) and the paper's other methods (its Fig. 2 has them).
METHOD_LABEL = {**method_labels(), "barlowtwins": "BarlowTwins", "mugs": "Mugs", "maect": "MAE-CT"}
ARCH_LABEL = {"resnet50": "ResNet-50", "resnet18": "ResNet-18", "resnet_tiny": "ResNet-tiny",
              "vit_tiny_test": "ViT-tiny", "vit_s_tiny": "ViT-S-tiny", "vit_b_tiny": "ViT-B-tiny", "vit_small": "ViT-S",
              "vit_base": "ViT-B", "vit_large": "ViT-L", "vit_huge": "ViT-H"}


FLOOR, CEILING = "random_init", "supervised"  # the variants of the floor and ceiling rows
LEVEL_STATUS = {FLOOR: "floor: random init", CEILING: "ceiling: supervised"}
BEYOND = "beyond the paper"  # the status of our rows of a method the paper does not have (BYOL)


def row_label(method: str, variant: str) -> str:
    """The paper's row name: "SimCLR", "Ours(SimCLR)", ..., "SimCLR random init", "Supervised"."""
    name = METHOD_LABEL.get(method, method)
    return {"rescued": f"Ours({name})", FLOOR: f"{name} random init", CEILING: "Supervised"}.get(variant, name)


def main_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the main experiments, which Fig. 2, Tables 1-2, the radars and the claims read
    (:func:`of_group`; none is not an error here: a profile may not have run yet)."""
    return of_group(df, MAIN_GROUP, empty_ok=True)


def aggregate(run_jsons: list[str | Path], eval_jsons: list[str | Path], groups: dict[str, list[str]]) -> pd.DataFrame:
    """One tidy long table: a row per (run, group, task, dataset, metric). ``groups``: run -> the
    groups that use it (``ssl_core.config.run_groups``); a run of several groups (one training)
    has its rows once per group."""
    runs = {}
    rows = []
    for path in run_jsons:
        info = json.loads(Path(path).read_text())
        spec = info["spec"]
        if not groups.get(spec["run"]):
            raise ValueError(f"{path}: run {spec['run']} has no group (pass every run's groups)")
        meta = {key: spec[key] for key in ("run", "method", "arch", "variant", "s", "k", "seed")}
        runs[spec["run"]] = meta
        final = info["final"]
        rows += [
            {**meta, "task": "model", "dataset": "", "metric": "params_M", "value": info["params"] / 1e6},
            {**meta, "task": "pretrain", "dataset": "", "metric": "collapsed", "value": float(info["collapse"] is not None)},
            {**meta, "task": "pretrain", "dataset": "", "metric": "final_loss", "value": final.get("loss", float("nan"))},
            {**meta, "task": "pretrain", "dataset": "", "metric": "emb_std", "value": final.get("emb_std", float("nan"))},
        ]
    for path in eval_jsons:
        result = json.loads(Path(path).read_text())
        meta = runs[result["run"]]
        # one metric per file, or several under "metrics" (a dense job: det_coco and seg_coco)
        for row in result.get("metrics", [result]):
            rows.append({**meta, "task": row["task"], "dataset": row["dataset"], "metric": row["metric"],
                         "value": row["value"]})
    rows = [{**row, "group": group} for row in rows for group in groups[row["run"]]]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["run", "group", "task", "dataset", "metric"], ignore_index=True)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def read_metrics(path: str | Path, group: str | None = None) -> pd.DataFrame:
    """metrics.csv or a results/paper CSV: text columns keep empty strings, numbers are numbers
    (s, k, seed empty for baselines -> NaN). ``group``: only the rows of that group of runs
    (:func:`of_group`), as every artifact made from metrics.csv reads it."""
    df = pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    for col in ("s", "k", "seed"):
        df[col] = pd.to_numeric(df[col].replace("", float("nan")), errors="coerce")
    return df if group is None else of_group(df, group, path)


def of_group(metrics: pd.DataFrame, group: str, source: str | Path = "metrics.csv", empty_ok: bool = False) -> pd.DataFrame:
    """The rows of one group of runs: "main" (Fig. 2, Tables 1-2, the radars) or a sweep's name
    (Figs. 5-6). A run of several groups has a row per group, so an artifact that read every row
    would count it twice and pool the sweep's runs with the main ones: a table without the
    ``group`` column is an error, never read as one group."""
    if "group" not in metrics.columns:
        raise ValueError(f"{source} has no 'group' column (written by an older aggregate step): rerun it, "
                         "e.g. snakemake --forcerun aggregate")
    rows = metrics[metrics.group == group]
    if rows.empty and not empty_ok:
        raise ValueError(f"{source} has no runs of group {group!r}; its groups: {', '.join(sorted(set(metrics.group)))}")
    return rows.reset_index(drop=True)


def ours_for(rows: pd.DataFrame, method: str, arch: str, variant: str | None = None,
             other_family: bool = False) -> pd.DataFrame:
    """Our rows for a published (method, arch[, variant]): that architecture if run, else (a
    scaled-down profile) its declared stand-ins (evaluations.arch_stand_ins.STAND_IN_FOR) if any ran, else the
    architectures of the same family (ResNet / ViT) that stand in for no other. ``variant`` None:
    ``rows`` has no variant column (paired gains: the claims). With ``other_family`` (Tables 1-2,
    one published architecture per method), a method run only on the other family stands in too
    (tiny, small: MoCo v3 on the tiny ResNet for the paper's ViT-B); the claims do not take it, so
    a claim on the paper's ViT says its family was not run."""
    mine = rows[rows.method == method]
    cand = mine if variant is None else mine[mine.variant == variant]
    exact = cand[cand.arch == arch]
    if len(exact):
        return exact
    same = cand[cand.arch.isin(stand_ins(cand.arch, arch))]  # declared stand-ins first, else the family
    if same.empty and other_family and arch_family(arch) not in set(mine.arch.map(arch_family)):
        return cand
    return same


# The transfer rows (Table 1, Fig. 4, their claims): the paper's datasets and our stand-ins of them.
TRANSFER_TASK = "transfer_linear"
DATASET_LABEL = {"cifar10": "Cifar10", "cifar100": "Cifar100", "food101": "Food101", "sun397": "SUN397", "dtd": "DTD",
                 "pets": "Pets", "aircraft": "Aircraft", "voc2007": "VOC2007", "flowers": "Flowers",
                 "caltech101": "Caltech101"}
STANDIN_PREFIX = "shapes_"  # shapes_<dataset>: the generated stand-in of a paper dataset (paper_standins)
STANDIN_MARK = " (stand-in)"


def standin_of(dataset: str) -> str | None:
    """The paper dataset a transfer stand-in ``shapes_<dataset>`` stands for, else None."""
    d = dataset.removeprefix(STANDIN_PREFIX)
    return d if dataset.startswith(STANDIN_PREFIX) and d in DATASET_LABEL else None


def as_paper_datasets(ours: pd.DataFrame) -> pd.DataFrame:
    """``ours`` with each stand-in's transfer rows under the paper dataset it stands for, so they
    fill that dataset's row of Table 1 and its claims; ``ours_dataset`` keeps the name evaluated.
    A run scored on both a paper dataset and its stand-in is an error (which would it report?)."""
    out = ours.copy()
    out["ours_dataset"] = out["dataset"]
    transfer = out.task == TRANSFER_TASK
    paper = out.loc[transfer, "dataset"].map(lambda d: standin_of(d) or d)
    both = out.loc[transfer].assign(paper=paper).groupby(["run", "group", "paper"]).ours_dataset.nunique()
    if (both > 1).any():
        run, _, d = both[both > 1].index[0]
        raise ValueError(f"run {run} has transfer results on both {d} and its stand-in {STANDIN_PREFIX}{d}")
    out.loc[transfer, "dataset"] = paper
    return out


def dataset_label(dataset: str, standin: bool = False) -> str:
    return DATASET_LABEL.get(dataset, dataset) + (STANDIN_MARK if standin else "")
