"""The SSL methods: one module each (``simclr.py``, ``mocov3.py``, ...), the contract in ``base.py``.

Every list of methods (the config schema's, the workflow's, the figures' and tables') comes from
here: :func:`method_names` and :func:`method_info` read the method modules' literals ``LABEL``
and ``RECIPE_SCHEMA`` from their source, without importing torch; ``METHODS`` (the registry of
the classes), ``Method``, ``StepInfo`` and ``MethodOutput`` import the method modules on first
use. A new method is one new module here.
"""
from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
_NOT_METHODS = {"base"}
#: The module-level literals of a method module read by :func:`method_info`.
_LITERALS = ("LABEL", "RECIPE_SCHEMA")


@functools.cache
def method_names() -> tuple[str, ...]:
    """The registered methods' names (= their modules' names), sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(_PACKAGE)])
                        if not m.name.startswith("_") and m.name not in _NOT_METHODS))


@functools.cache
def method_info(name: str) -> dict[str, Any]:
    """``{"LABEL": ..., "RECIPE_SCHEMA": ...}`` of method ``name``, from its module's source."""
    if name not in method_names():
        raise KeyError(f"unknown method {name!r}; known: {', '.join(method_names())}")
    path = _PACKAGE / f"{name}.py"
    found = {}
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None
        if isinstance(target, ast.Name) and target.id in _LITERALS:
            found[target.id] = ast.literal_eval(node.value)
    missing = [key for key in _LITERALS if key not in found]
    if missing:
        raise ValueError(f"{path}: the method module lacks the literal(s) {', '.join(missing)} (ssl_core.methods.base)")
    return found


def method_labels() -> dict[str, str]:
    """Method name -> its label in figures and tables."""
    return {name: method_info(name)["LABEL"] for name in method_names()}


@functools.cache
def _load() -> None:
    """Import every method module (each registers its class in ``METHODS``)."""
    base = importlib.import_module("ssl_core.methods.base")
    for name in method_names():
        importlib.import_module(f"ssl_core.methods.{name}")
    if tuple(base.METHODS.names()) != method_names():
        raise RuntimeError(f"the method modules {method_names()} register {base.METHODS.names()}: each module "
                           "registers one method under its own name")


def __getattr__(name: str) -> Any:
    if name in ("METHODS", "Method", "MethodOutput", "StepInfo", "frozen_copy", "momentum_at"):
        _load()
        return getattr(importlib.import_module("ssl_core.methods.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
