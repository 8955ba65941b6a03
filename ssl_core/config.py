"""Experiment config: schema validation, defaults, and the run matrix.

Data flows one way: config -> (this module) -> one spec per run -> ``pretrain`` -> evaluations.
A run id encodes everything that changes its result apart from the recipe, which lives in the
config and reaches each job as the run's spec (Snakemake ``params``: editing it reruns the job).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ssl_core.methods import method_info, method_names

#: The config schema: package data of ssl_core (an installed ssl_core validates configs without the repository).
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that does not fit the schema; the message names the offending key (``keys``:
    their dotted paths, where known)."""

    def __init__(self, message: str, keys: list[str] | None = None) -> None:
        super().__init__(message)
        self.keys = keys or []


def _location(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _schema() -> dict[str, Any]:
    """The config schema, with ``$defs/method`` (the methods' names) and, per method,
    ``$defs/recipe_<method>`` (``recipe_common`` + its module's ``RECIPE_SCHEMA``) from
    ``ssl_core.methods``, read without importing torch."""
    root = yaml.safe_load(SCHEMA_PATH.read_text())
    root["$defs"]["method"] = {"enum": list(method_names())}
    for name in method_names():
        own = dict(method_info(name)["RECIPE_SCHEMA"])
        root["$defs"][f"recipe_{name}"] = {"allOf": [{"$ref": "#/$defs/recipe_common"}, *own.pop("allOf", [])],
                                           "unevaluatedProperties": False, **own}
    return root


def _allowed_keys(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """Keys a (possibly allOf/$ref-composed) object schema declares."""
    keys = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        if "$ref" in sub:
            sub = root["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        keys |= _allowed_keys(sub, root)
    return keys


def _check(instance: Any, schema: dict[str, Any], root: dict[str, Any], prefix: str = "", what: str = "config") -> None:
    validator = jsonschema.Draft202012Validator({**schema, "$defs": root["$defs"]})
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return
    lines, keys = [], []
    for e in errors:
        where = prefix + _location(e) if e.absolute_path or not prefix else prefix.rstrip(".")
        if e.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = _allowed_keys(e.schema, root)
            unknown = sorted(set(e.instance) - allowed)
            if allowed and not unknown:
                # Every key is declared: an error inside an allOf part (reported on its own) left
                # that part's keys unevaluated.
                continue
            keys.append(where)
            lines.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                         f"{', '.join(sorted(allowed)) or '(see schema)'}")
        else:
            keys.append(where)
            lines.append(f"{where}: {e.message}")
    if not lines:  # not expected: only keys left unevaluated by no reported error
        lines, keys = [f"{_location(e)}: {e.message}" for e in errors], [_location(e) for e in errors]
    raise ConfigError(f"invalid {what}:\n  " + "\n  ".join(lines), keys)


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check ``config`` against the schema and fill defaults; raise ConfigError naming the key.
    Each method's recipe is checked against that method's recipe schema, and so is every
    experiment's recipe once merged over it."""
    root = _schema()
    _check(config, root, root)
    for name, method in config["methods"].items():
        _check(method["recipe"], {"$ref": f"#/$defs/recipe_{name}"}, root, f"methods.{name}.recipe.")
    for where in ("experiments", "sweeps"):
        for i, exp in enumerate(config.get(where, [])):
            if exp["method"] in config["methods"] and "recipe" in exp:
                merged = {**config["methods"][exp["method"]]["recipe"], **exp["recipe"]}
                _check(merged, {"$ref": f"#/$defs/recipe_{exp['method']}"}, root, f"{where}.{i}.recipe.")
    config = copy.deepcopy(config)
    config["data"]["pretrain"].setdefault("num_workers", 0)
    config["train"].setdefault("device", "auto")
    config["train"].setdefault("ckpt_every_steps", 500)
    for where, entries in (("experiments", config["experiments"]), ("sweeps", config.get("sweeps", []))):
        for exp in entries:
            if exp["method"] not in config["methods"]:
                raise ConfigError(f"{where}: method {exp['method']!r} has no recipe under methods.{exp['method']}")
    for i, sweep in enumerate(config.get("sweeps", [])):
        if sweep["name"] == MAIN_GROUP:
            raise ConfigError(f"sweeps.{i}.name: {MAIN_GROUP!r} is the group of the main experiments; name the sweep "
                              "otherwise (e.g. sens)")
    if config["eval"]["views_method"] not in config["methods"]:
        raise ConfigError(f"eval.views_method: {config['eval']['views_method']!r} has no recipe under methods (one of "
                          f"{', '.join(config['methods'])})")
    methods = [sweep["method"] for sweep in config.get("sweeps", [])]
    if len(methods) != len(set(methods)):
        raise ConfigError(f"sweeps: one sweep per method (Figs. 5-6 have a panel per method), got {methods}")
    dense = config["eval"].get("dense") or {}
    both = sorted(set(dense.get("left_out", {})) & set(dense))
    if both:
        raise ConfigError(f"eval.dense.left_out.{both[0]}: the family has a schedule (eval.dense.{both[0]}); a family "
                          "is either evaluated or left out")
    return config


INHERITS = "inherits"  # a profile's top-level key: the file (relative to it) it is written over


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: a config is a mapping of keys (profile, data, methods, ...)")
    return tree


def merge_over(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` deep-merged over ``parent`` (a new dict): mappings merge key by key, recursively;
    lists and scalars replace; a key set to null (``~``) in ``child`` is removed."""
    merged = copy.deepcopy(parent)
    for key, value in child.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_over(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def profile_chain(path: str | Path) -> list[Path]:
    """The files a config file is made of, root first: the chain of its ``inherits`` keys."""
    chain: list[Path] = []
    path = Path(path)
    while True:
        if path.resolve() in [p.resolve() for p in chain]:
            cycle = " -> ".join(str(p) for p in [*chain, path])
            raise ConfigError(f"{chain[-1]}: {INHERITS} makes a cycle: {cycle}")
        tree = _read_yaml(path) if not chain else _read_parent(path, chain[-1])
        chain.append(path)
        parent = tree.get(INHERITS)
        if parent is None:
            return chain[::-1]
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: {INHERITS} names one config file (a path relative to {path}), got {parent!r}")
        path = path.parent / parent


def _read_parent(path: Path, child: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{child}: {INHERITS}: {path}: no such config file")
    return _read_yaml(path)


def read_profile(path: str | Path) -> dict[str, Any]:
    """A config file's keys, not yet validated, with its ``inherits`` resolved: the file it names
    (a path relative to this file; itself resolved the same way) with this file's keys
    ``merge_over`` it. The one place profiles are resolved: ``load_config`` and the Snakefile."""
    config: dict[str, Any] = {}
    for file in profile_chain(path):
        config = merge_over(config, _read_yaml(file)) if config else _read_yaml(file)
        config.pop(INHERITS, None)
    return config


def read_profiles(paths: list[str | Path]) -> dict[str, Any]:
    """Several config files given together (``snakemake --configfile a.yaml b.yaml``): each resolved
    (``read_profile``), then merged in order as Snakemake merges config files (mappings key by key;
    a null sets the value to null)."""
    def update(into: dict[str, Any], over: dict[str, Any]) -> None:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                update(into[key], value)
            else:
                into[key] = copy.deepcopy(value)

    config: dict[str, Any] = {}
    for path in paths:
        update(config, read_profile(path))
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """A config file (its ``inherits`` resolved), validated; every error names the file."""
    config = read_profile(path)
    try:
        return validate_config(config)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}", e.keys) from None


def typed_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the values of Snakemake's ``--config`` typed as YAML types them: Snakemake
    parses a nested value (``--config methods='{simclr: {rescue: {k: 4}}}'``) with YAML's
    BaseLoader, which keeps every scalar in it a string; top-level scalars it types itself."""
    def typed(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: typed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [typed(v) for v in value]
        if isinstance(value, str):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        return value

    def merge(into: dict[str, Any], over: dict[str, Any], nested: bool) -> None:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value, True)
            elif nested or isinstance(value, (dict, list)):
                into[key] = typed(value)

    config = copy.deepcopy(config)
    merge(config, dict(overrides), False)
    return config


def name_sources(error: ConfigError, files: list[str | Path], command_line: dict[str, Any] | None = None) -> ConfigError:
    """``error`` with, for each key it names, where its value comes from: ``--config``
    (``command_line``), else the last of the config ``files`` that sets it."""
    def sets(tree: Any, key: str) -> bool:
        for part in key.split("."):
            if isinstance(tree, dict) and part in tree:
                tree = tree[part]
            elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
                tree = tree[int(part)]
            else:
                return False
        return True

    chains = [profile_chain(f) for f in files if Path(f).is_file()]
    trees = {str(p): yaml.safe_load(p.read_text()) for chain in chains for p in chain}
    lines = []
    for key in dict.fromkeys(error.keys):
        where = [f for f, tree in trees.items() if sets(tree, key)]
        if command_line and sets(dict(command_line), key):
            lines.append(f"{key}: set by --config")
        elif where:
            lines.append(f"{key}: set in {where[-1]}")
        elif "." in key:
            lines.append(f"{key}: missing from {', '.join(trees) or 'the config'}")
    return ConfigError(f"{error}\n" + "\n".join(lines) if lines else str(error), error.keys)


def validate_pretrain_data(data: Any) -> dict[str, Any]:
    """Check a ``data.pretrain`` section (what ``python -m ssl_core check-images --data`` reads)."""
    root = _schema()
    _check(data, root["properties"]["data"]["properties"]["pretrain"], root, "data.pretrain.", "data")
    return data


#: The variants of a run spec (ssl_core.config._spec and reference_runs).
VARIANTS = ("baseline", "rescued", "random_init", "supervised")
SPEC_KEYS = ("run", "method", "arch", "variant", "seed", "k", "s", "recipe", "data", "train")


def validate_spec(spec: Any) -> dict[str, Any]:
    """Check one run's spec (what ``python -m ssl_core pretrain --spec`` and the evaluation jobs
    read) against the config schema the workflow uses; raise ConfigError naming each bad key.
    Returns the spec with the schema's defaults filled, as validate_config fills them."""
    if not isinstance(spec, dict):
        raise ConfigError(f"invalid run spec: a JSON object with keys {', '.join(SPEC_KEYS)}, got {type(spec).__name__}")
    missing = [k for k in SPEC_KEYS if k not in spec]
    unknown = sorted(set(spec) - set(SPEC_KEYS) - {"rescue", "groups", "sweep"})
    if missing or unknown:
        raise ConfigError("invalid run spec: " + "; ".join(
            ([f"missing key(s) {', '.join(missing)}"] if missing else []) +
            ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])) +
            " (a spec is what ssl_core.config.run_matrix makes of a config)", missing + unknown)
    root = _schema()
    props = root["properties"]
    _check(spec["variant"], {"enum": list(VARIANTS)}, root, "variant.", "run spec")
    archs = props["experiments"]["items"]["properties"]["arch"]
    _check(spec["arch"], archs, root, "arch.", "run spec")
    _check(spec["seed"], {"type": "integer", "minimum": 0}, root, "seed.", "run spec")
    _check(spec["data"], props["data"]["properties"]["pretrain"], root, "data.", "run spec")
    _check(spec["train"], props["train"], root, "train.", "run spec")
    if spec["variant"] == "supervised":
        recipe = {k: v for k, v in spec["recipe"].items() if k != "backbone"} if isinstance(spec["recipe"], dict) \
            else spec["recipe"]
        _check(recipe, props["references"]["properties"]["supervised"], root, "recipe.", "run spec")
    else:
        methods = sorted(k[len("recipe_"):] for k in root["$defs"] if k.startswith("recipe_") and k != "recipe_common")
        _check(spec["method"], {"enum": methods}, root, "method.", "run spec")
        _check(spec["recipe"], {"$ref": f"#/$defs/recipe_{spec['method']}"}, root, "recipe.", "run spec")
    if spec["variant"] == "rescued":
        _check({"k": spec["k"], "s": spec["s"], **(spec.get("rescue") or {})}, {"$ref": "#/$defs/rescue"}, root,
               "", "run spec")
    spec = copy.deepcopy(spec)
    spec["data"].setdefault("num_workers", 0)
    spec["train"].setdefault("device", "auto")
    spec["train"].setdefault("ckpt_every_steps", 500)
    return spec


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


def _spec(config: dict[str, Any], method: str, arch: str, variant: str, seed: int, recipe: dict[str, Any],
          k: int | None, s: float | None, tag: str | None = None,
          rescue: dict[str, Any] | None = None) -> dict[str, Any]:
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


#: A scaled-down architecture declared the stand-in of one paper architecture (the CPU profiles'
#: MoCo v3 ViT pair, docs/profiles.md): a table's row of that paper architecture reads its runs,
#: and no other paper architecture's row does. Others answer for every paper architecture of their family.
STAND_IN_FOR = {"vit_s_tiny": "vit_small", "vit_b_tiny": "vit_base"}


def stand_ins(archs, arch: str) -> set[str]:
    """Which of our architectures ``archs`` answer for the paper's ``arch`` when it was not run:
    its declared stand-ins (:data:`STAND_IN_FOR`) if any ran, else those of its family (ResNet / ViT)
    not declared the stand-in of another architecture."""
    archs = set(archs)
    declared = {a for a in archs if STAND_IN_FOR.get(a) == arch}
    if declared:
        return declared
    return {a for a in archs if arch_family(a) == arch_family(arch) and a not in STAND_IN_FOR}


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
    return [_spec(config, exp["method"], exp["arch"], variant, seed, recipe, *_rescue_point(variant, rescue),
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
        spec = _spec(config, sweep["method"], sweep["arch"], "baseline", seed, recipe, None, None, tag)
        out[spec["run"]] = spec
        points = []
        if part in (None, "s"):
            points += [(sweep["s"]["k"], s) for s in sweep["s"]["values"]]
        if part in (None, "k"):
            points += [(k, sweep["k"]["s"]) for k in sweep["k"]["values"]]
        for k, s in points:
            spec = _spec(config, sweep["method"], sweep["arch"], "rescued", seed, recipe, k, s, tag)
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
                spec = _spec(config, exp["method"], exp["arch"], "random_init", seed, recipe, None, None)
                runs.setdefault(spec["run"], spec)
        if "supervised" in refs and not any(r["arch"] == exp["arch"] for r in runs.values()
                                            if r["variant"] == "supervised"):
            sup = {**refs["supervised"], "backbone": recipe.get("backbone", {})}
            spec = _spec(config, "supervised", exp["arch"], "supervised", exp["seeds"][0], sup, None, None)
            runs[spec["run"]] = spec
    return runs
