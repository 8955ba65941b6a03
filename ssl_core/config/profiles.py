"""Config files as the workflow and the library read them: a profile's ``inherits`` chain (each
file written over the one it names), several ``--configfile`` files merged as Snakemake merges
them, ``--config`` values typed by the schema, and errors that name the files setting each bad key."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ssl_core.config.errors import ConfigError
from ssl_core.config.schema import validate_config


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
