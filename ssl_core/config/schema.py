"""Checks against ssl_core/config.schema.yaml (package data): a whole config, with defaults
filled (``validate_config``), one run's spec (``validate_spec``: what the jobs read) and a
``data.pretrain`` section. Each method's recipe is checked against that method's own
``RECIPE_SCHEMA`` (``ssl_core.methods``), read without importing torch. Errors name the key."""
from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ssl_core.config.errors import ConfigError
from ssl_core.config.runs import MAIN_GROUP, VARIANTS
from ssl_core.methods import method_info, method_names

#: The config schema: package data of ssl_core (an installed ssl_core validates configs without the repository).
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config.schema.yaml"


def _location(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _schema() -> dict[str, Any]:
    """The config schema, with ``$defs/method`` (the methods' names) and, per method,
    ``$defs/recipe_<method>`` (``recipe_common`` + its module's ``RECIPE_SCHEMA``) from
    ``ssl_core.methods``, read without importing torch. A copy of the one parse per process:
    parsing the YAML was most of the time of validating a spec (0.2 s each, measured)."""
    return copy.deepcopy(_parsed_schema())


@functools.cache
def _parsed_schema() -> dict[str, Any]:
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


def validate_pretrain_data(data: Any) -> dict[str, Any]:
    """Check a ``data.pretrain`` section (what ``python -m ssl_core check-images --data`` reads)."""
    root = _schema()
    _check(data, root["properties"]["data"]["properties"]["pretrain"], root, "data.pretrain.", "data")
    return data


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
