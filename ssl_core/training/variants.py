"""What a run trains and on what, by its spec's ``variant``: a small registry the loop reads, so
the loop names no variant.

A variant is two constructors: the objective the step drives (a :class:`ssl_core.methods.base.Trainable`)
and the data the loop feeds it (see :mod:`ssl_core.training.data` for the interface). The
self-supervised variants (``baseline``, ``rescued``, ``random_init``: the spec's method on its
backbone, with multi-view data) are registered here; a module that adds a variant registers it
into :data:`VARIANTS` and is named in :data:`PLUGINS` (``ssl_core.supervised``: the ceiling's
labelled images and cross-entropy objective), which are imported on first lookup, as the method
modules are (``ssl_core.methods``).
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ssl_core.backbones import build_backbone
from ssl_core.methods import METHODS
from ssl_core.methods.base import Trainable
from ssl_core.registry import Registry
from ssl_core.training.data import ViewData


@dataclass(frozen=True)
class Variant:
    """``objective(spec)`` -> the model the step trains; ``data(spec, rank)`` -> the loop's data."""

    objective: Callable[[dict[str, Any]], Trainable]
    data: Callable[[dict[str, Any], int], Any]


VARIANTS: Registry[Variant] = Registry("training variant")
#: Modules that register variants of their own (imported on the first lookup).
PLUGINS = ("ssl_core.supervised",)


def self_supervised_objective(spec: dict[str, Any]) -> Trainable:
    """The spec's method of the registry around its backbone."""
    recipe = spec["recipe"]
    backbone = build_backbone(spec["arch"], **recipe.get("backbone", {}))
    return METHODS.get(spec["method"]).from_recipe(backbone, recipe)


for _name in ("baseline", "rescued", "random_init"):
    VARIANTS.register(_name)(Variant(self_supervised_objective, ViewData))


@functools.cache
def _load_plugins() -> None:
    for module in PLUGINS:
        importlib.import_module(module)


def variant(spec: dict[str, Any]) -> Variant:
    """The registered variant of a spec (a spec without one, e.g. a benchmark's model spec: the
    self-supervised method)."""
    _load_plugins()
    return VARIANTS.get(spec.get("variant", "baseline"))
