"""environment.yml (conda) and pyproject.toml (pip) must pin the same versions."""
import tomllib

import yaml

from tests.conftest import ROOT


def pins_of(requirements):
    return {r.split("==")[0].lower(): r.split("==")[1] for r in requirements if "==" in r}


def test_environment_yml_mirrors_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_pins = pins_of(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins_of(conda_pip) == pip_pins
    assert all("==" in r for r in project["dependencies"]), "every dependency is pinned exactly"
    assert pip_pins["torch"] == "2.14.1" and pip_pins["torchvision"] == "0.29.1"
