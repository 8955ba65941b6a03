"""The method contract (ssl_core.methods.base) and the one list of methods (ssl_core.methods)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from ssl_core.backbones import build_backbone
from ssl_core.config import load_config
from ssl_core.config.schema import _schema
from ssl_core.methods import METHODS, Method, MethodOutput, method_info, method_labels, method_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ssl_core" / "methods"


def test_the_registry_holds_one_method_per_module():
    assert METHODS.names() == list(method_names())
    assert {"simclr", "mocov3", "dinov2"} <= set(method_names())
    for name in method_names():
        cls = METHODS.get(name)
        assert issubclass(cls, Method) and cls.__module__ == f"ssl_core.methods.{name}"
        assert cls.rescue_features


def test_a_method_missing_part_of_the_contract_cannot_be_built():
    class NoEmbed(Method):
        @classmethod
        def from_recipe(cls, backbone, recipe):
            return cls()

        @staticmethod
        def view_specs(recipe):
            return []

        def forward(self, views, step=None):
            return MethodOutput(torch.zeros(()), views[0], views[1])

    with pytest.raises(TypeError, match="embed"):
        NoEmbed()


def test_default_hooks_and_param_groups():
    """A method without its own groups gets no weight decay on 1-D tensors; hooks default to none."""
    model = METHODS.build("simclr", backbone=build_backbone("resnet_tiny"), proj_hidden_dim=16, proj_out_dim=8)
    decay, no_decay = model.param_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert model.on_before_optimizer_step(None) is None and model.eval_backbone is model.backbone


def test_method_modules_import_only_the_base_of_the_package():
    """No import cycle: a method module never imports ``ssl_core.methods`` itself nor another method."""
    for name in method_names():
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        inside = {m for m in imported if m and m.startswith("ssl_core.methods")}
        assert inside <= {"ssl_core.methods.base"}, (name, inside)


def test_schema_and_labels_come_from_the_method_modules():
    root = _schema()
    assert root["$defs"]["method"]["enum"] == list(method_names())
    for name in method_names():
        recipe = root["$defs"][f"recipe_{name}"]
        assert recipe["properties"] == method_info(name)["RECIPE_SCHEMA"]["properties"]
        assert recipe["unevaluatedProperties"] is False
    assert method_labels()["mocov3"] == "MoCo v3"


def test_an_unknown_method_is_named_in_the_config_error(tmp_path):
    cfg = (ROOT / "config" / "config.yaml").read_text().replace("  simclr:\n    recipe:", "  simclrr:\n    recipe:", 1)
    (tmp_path / "c.yaml").write_text(cfg)
    with pytest.raises(ValueError, match="simclrr"):
        load_config(tmp_path / "c.yaml")
