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

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that does not fit the schema; the message names the offending key."""


def _location(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _allowed_keys(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """Keys a (possibly allOf/$ref-composed) object schema declares."""
    keys = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        if "$ref" in sub:
            sub = root["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        keys |= _allowed_keys(sub, root)
    return keys


def _check(instance: Any, schema: dict[str, Any], root: dict[str, Any], prefix: str = "") -> None:
    validator = jsonschema.Draft202012Validator({**schema, "$defs": root["$defs"]})
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return
    lines = []
    for e in errors:
        where = prefix + _location(e) if e.absolute_path or not prefix else prefix.rstrip(".")
        if e.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = _allowed_keys(e.schema, root)
            unknown = sorted(set(e.instance) - allowed)
            lines.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                         f"{', '.join(sorted(allowed)) or '(see schema)'}")
        else:
            lines.append(f"{where}: {e.message}")
    raise ConfigError("invalid config:\n  " + "\n  ".join(lines))


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check ``config`` against the schema and fill defaults; raise ConfigError naming the key.
    Each method's recipe is checked against that method's recipe schema, and so is every
    experiment's recipe once merged over it."""
    root = _schema()
    _check(config, root, root)
    for name, method in config["methods"].items():
        _check(method["recipe"], {"$ref": f"#/$defs/recipe_{name}"}, root, f"methods.{name}.recipe.")
    for i, exp in enumerate(config["experiments"]):
        if exp["method"] in config["methods"] and "recipe" in exp:
            merged = {**config["methods"][exp["method"]]["recipe"], **exp["recipe"]}
            _check(merged, {"$ref": f"#/$defs/recipe_{exp['method']}"}, root, f"experiments.{i}.recipe.")
    config = copy.deepcopy(config)
    config["data"]["pretrain"].setdefault("num_workers", 0)
    config["train"].setdefault("device", "auto")
    config["train"].setdefault("ckpt_every_steps", 500)
    for exp in config["experiments"]:
        if exp["method"] not in config["methods"]:
            raise ConfigError(f"experiments: method {exp['method']!r} has no recipe under methods.{exp['method']}")
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    return validate_config(yaml.safe_load(Path(path).read_text()))


def run_id(method: str, arch: str, variant: str, seed: int, k: int | None = None, s: float | None = None) -> str:
    """e.g. ``simclr-resnet50-rescued-s0.75-k128-seed0`` or ``simclr-resnet50-baseline-seed0``."""
    rescue = f"-s{s:g}-k{k}" if variant == "rescued" else ""
    return f"{method}-{arch}-{variant}{rescue}-seed{seed}"


def run_matrix(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every pretraining run of the config: run id -> the complete spec its job needs."""
    runs: dict[str, dict[str, Any]] = {}
    for exp in config["experiments"]:
        method = config["methods"][exp["method"]]
        recipe = {**method["recipe"], **exp.get("recipe", {})}
        rescue = {**method["rescue"], **exp.get("rescue", {})}
        if rescue["k"] > recipe["batch_size"]:
            raise ConfigError(f"experiments ({exp['method']}, {exp['arch']}): rescue.k={rescue['k']} "
                              f"exceeds recipe.batch_size={recipe['batch_size']}")
        for variant in exp["variants"]:
            for seed in exp["seeds"]:
                k, s = (rescue["k"], rescue["s"]) if variant == "rescued" else (None, None)
                rid = run_id(exp["method"], exp["arch"], variant, seed, k, s)
                if rid in runs:
                    raise ConfigError(f"experiments: run {rid} is listed twice")
                runs[rid] = {
                    "run": rid, "method": exp["method"], "arch": exp["arch"], "variant": variant,
                    "seed": seed, "k": k, "s": s, "recipe": recipe,
                    "data": config["data"]["pretrain"], "train": config["train"],
                }
    return runs
