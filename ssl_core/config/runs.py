"""The run matrix: a validated config -> one spec per pretraining run, every spec built by
:func:`run_spec` (the main experiments, their floors and ceilings, the sensitivity sweeps; the
benchmarks and the compute budget too). A run id encodes everything that changes its result
apart from the recipe, which lives in the config and reaches each job as the run's spec
(Snakemake ``params``: editing it reruns the job)."""
from __future__ import annotations

from typing import Any

from ssl_core.config.errors import ConfigError

#: The variants of a run spec (run_spec and reference_runs).
VARIANTS = ("baseline", "rescued", "random_init", "supervised")


def run_id(method: str, arch: str, variant: str, seed: int, k: int | None = None, s: float | None = None,
           tag: str | None = None, rule: dict[str, str] | None = None) -> str:
    """e.g. ``simclr-resnet50-rescued-s0.75-k128-seed0``, ``simclr-resnet50-baseline-seed0``, with a
    sweep's tag (its recipe differs from the main run's) ``simclr-resnet50-sens-rescued-s0.5-k64-seed1``,
    or with a rescue option other than its method's (``rule``: an experiment's ``rescue.bn: own_batch``
    where the method's ``rescue`` block has ``common``) ``simclr-resnet50-rescued-s0.75-k128-own_batch-seed0``."""
    if variant == "supervised":  # not a method's run: one per architecture
        return f"supervised-{arch}-seed{seed}"
    options = "".join(f"-{value}" for value in (rule or {}).values())
    rescue = f"-s{s:g}-k{k}{options}" if variant == "rescued" else ""
    middle = f"-{tag}" if tag else ""
    return f"{method}-{arch}{middle}-{variant}{rescue}-seed{seed}"


#: The rescue term's options beside k and s, with their defaults (the schema's): ssl_core.batchnorm, ssl_core.rescue.
RESCUE_RULE = {"bn": "common", "topk": "per_process"}


def run_spec(config: dict[str, Any], method: str, arch: str, variant: str, seed: int, recipe: dict[str, Any],
             k: int | None, s: float | None, tag: str | None = None,
             rescue: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec of one run of ``config`` (the one place a spec is built): its id (:func:`run_id`),
    method, arch, variant, seed, rescue point (k, s; None but for ``rescued``), ``recipe``, the
    config's pretraining data and train settings, and for a rescued run its rescue rule (the
    method's ``rescue`` block with ``rescue`` over it; an option other than the method's is named
    in the id)."""
    if variant == "rescued" and k > recipe["batch_size"]:
        raise ConfigError(f"{method} {arch}{' ' + tag if tag else ''}: rescue k={k} exceeds recipe.batch_size="
                          f"{recipe['batch_size']}")
    # s as a float: s: 1 in one place and s: 1.0 in another are one spec (and one run)
    s = None if s is None else float(s)
    rule, changed = None, None
    if variant == "rescued":
        usual = {**RESCUE_RULE, **config["methods"][method]["rescue"]}
        rescue = {**usual, **(rescue or {})}
        rule = {key: rescue[key] for key in RESCUE_RULE}
        changed = {key: value for key, value in rule.items() if value != usual[key]}
    rid = run_id(method, arch, variant, seed, k, s, tag, changed)
    spec = {"run": rid, "method": method, "arch": arch, "variant": variant, "seed": seed, "k": k, "s": s,
            "recipe": recipe, "data": config["data"]["pretrain"], "train": config["train"]}
    if rule is not None:
        spec["rescue"] = rule
    return spec


def arch_family(arch: str) -> str:
    """A backbone's family by its registry name: "vit" or "resnet" (the key of its dense
    schedules under eval.dense, and what a table matches a stand-in architecture by)."""
    return "vit" if arch.startswith("vit") else "resnet"


MAIN_GROUP = "main"  # the group of the runs of `experiments` (Fig. 2, Tables 1-2); a sweep's is its name
BOOKKEEPING = ("groups",)  # spec keys that say where a run is used, not how it is trained


def training_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """What a run's jobs need to train and evaluate it: its spec without the bookkeeping (the
    groups that use it), so adding a sweep that reuses a run reruns none of its jobs."""
    return {key: value for key, value in spec.items() if key not in BOOKKEEPING}


def _recipe(config: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """An experiment's or a sweep's recipe: its method's, with the entry's overrides."""
    return {**config["methods"][entry["method"]]["recipe"], **entry.get("recipe", {})}


def _rescue_point(variant: str, rescue: dict[str, Any]) -> tuple[int | None, float | None]:
    """(k, s) of a variant: the rescue's for ``rescued``, none for every other variant."""
    return (rescue["k"], rescue["s"]) if variant == "rescued" else (None, None)


def experiment_runs(config: dict[str, Any], exp: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs of one main experiment: one spec per (variant, seed)."""
    recipe = _recipe(config, exp)
    rescue = {**config["methods"][exp["method"]]["rescue"], **exp.get("rescue", {})}
    return [run_spec(config, exp["method"], exp["arch"], variant, seed, recipe, *_rescue_point(variant, rescue),
                  rescue=rescue) for variant in exp["variants"] for seed in exp["seeds"]]


def _add_run(runs: dict[str, dict[str, Any]], spec: dict[str, Any], group: str) -> None:
    """Add ``spec`` to ``runs`` as used by ``group``: a run already there with the same training
    spec is the same run (one training), its group recorded beside the others."""
    run = runs.setdefault(spec["run"], {**spec, "groups": []})
    if training_spec(run) != training_spec(spec):
        differ = sorted(key for key in spec if run.get(key) != spec[key])
        raise ConfigError(f"run {spec['run']} is defined twice with different {', '.join(differ)} "
                          f"(groups {', '.join(run['groups'])} and {group}): give one of them other values")
    if group not in run["groups"]:
        run["groups"].append(group)


def linear_settings(linear: dict[str, Any], method: str, arch: str) -> dict[str, Any]:
    """A run's linear-probe settings: ``eval.linear`` with every entry of its ``overrides`` whose
    ``when`` (method and/or arch family) matches the run merged over it, in order."""
    settings = {k: v for k, v in linear.items() if k != "overrides"}
    for override in linear.get("overrides", []):
        when = override["when"]
        if when.get("method", method) == method and when.get("family", arch_family(arch)) == arch_family(arch):
            settings |= {k: v for k, v in override.items() if k != "when"}
    return settings


def run_matrix(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every pretraining run of the config, once: run id -> the complete spec its job needs
    (:func:`training_spec`) and ``groups``, the groups that use it: "main" for the main experiments,
    the sweep's name for a sensitivity sweep. A sweep point equal to a main run is that run."""
    runs: dict[str, dict[str, Any]] = {}
    for exp in config["experiments"]:
        for spec in experiment_runs(config, exp):
            _add_run(runs, spec, exp.get("group", MAIN_GROUP))
    for spec in reference_runs(config).values():
        _add_run(runs, spec, MAIN_GROUP)
    for sweep in config.get("sweeps", []):
        for spec in sweep_runs(config, sweep).values():
            _add_run(runs, spec, sweep["name"])
    return runs


def run_groups(runs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """run id -> the groups that use it (what the aggregate step writes beside each run)."""
    return {run: spec["groups"] for run, spec in runs.items()}


def _sweep_tag(config: dict[str, Any], sweep: dict[str, Any], recipe: dict[str, Any]) -> str | None:
    """The sweep's name when its recipe differs from that of a main experiment of the same method
    and architecture (the ids must then differ), else None: its runs are the main runs where they meet."""
    differs = any(exp["method"] == sweep["method"] and exp["arch"] == sweep["arch"] and _recipe(config, exp) != recipe
                  for exp in config["experiments"])
    return sweep["name"] if differs else None


def sweep_runs(config: dict[str, Any], sweep: dict[str, Any], part: str | None = None) -> dict[str, dict[str, Any]]:
    """The runs of one sensitivity sweep: its baselines and, for ``part`` "s" (Fig. 5: s varies at
    a fixed k), "k" (Fig. 6: k varies at a fixed s) or None (both), its rescued runs."""
    recipe = _recipe(config, sweep)
    tag = _sweep_tag(config, sweep, recipe)
    out = {}
    for seed in sweep["seeds"]:
        spec = run_spec(config, sweep["method"], sweep["arch"], "baseline", seed, recipe, None, None, tag)
        out[spec["run"]] = spec
        points = []
        if part in (None, "s"):
            points += [(sweep["s"]["k"], s) for s in sweep["s"]["values"]]
        if part in (None, "k"):
            points += [(k, sweep["k"]["s"]) for k in sweep["k"]["values"]]
        for k, s in points:
            spec = run_spec(config, sweep["method"], sweep["arch"], "rescued", seed, recipe, k, s, tag)
            out[spec["run"]] = spec
    return out


def sweep_figure(config: dict[str, Any], sweep: dict[str, Any], param: str) -> dict[str, Any]:
    """What a Fig. 5 (``param`` s) / Fig. 6 (k) figure reads from metrics.csv: the sweep's runs by
    role (``python -m evaluations sensitivity --sweep``)."""
    runs = sweep_runs(config, sweep, param).values()
    return {"method": sweep["method"], "group": sweep["name"], "fixed": sweep[param]["k" if param == "s" else "s"],
            "main": config["methods"][sweep["method"]]["rescue"][param],  # the main runs' value (s: the paper's)
            "rescued": sorted(r["run"] for r in runs if r["variant"] == "rescued"),
            "baselines": sorted(r["run"] for r in runs if r["variant"] == "baseline")}


def reference_runs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The floor and ceiling of the main experiments (config ``references``): per (method, arch,
    seed) a ``random_init`` run, the backbone as that seed's baseline starts (same recipe, no
    step), and per arch a ``supervised`` run, the backbone trained with labels by the recipe
    ``references.supervised`` (first seed of the arch's first experiment; the backbone options of
    that experiment's recipe)."""
    refs = config.get("references", {})
    runs: dict[str, dict[str, Any]] = {}
    for exp in config["experiments"]:
        recipe = {**config["methods"][exp["method"]]["recipe"], **exp.get("recipe", {})}
        if exp.get("group", MAIN_GROUP) != MAIN_GROUP:
            continue  # an ablation's runs share the main experiments' floor and ceiling
        floors = refs.get("random_init", False)  # true: every seed; a list: those seeds
        if floors:
            for seed in exp["seeds"] if floors is True else [seed for seed in exp["seeds"] if seed in floors]:
                spec = run_spec(config, exp["method"], exp["arch"], "random_init", seed, recipe, None, None)
                runs.setdefault(spec["run"], spec)
        if "supervised" in refs and not any(r["arch"] == exp["arch"] for r in runs.values()
                                            if r["variant"] == "supervised"):
            sup = {**refs["supervised"], "backbone": recipe.get("backbone", {})}
            spec = run_spec(config, "supervised", exp["arch"], "supervised", exp["seeds"][0], sup, None, None)
            runs[spec["run"]] = spec
    return runs
