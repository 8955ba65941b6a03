"""environment.yml (conda) and pyproject.toml (pip) must pin the same versions; the package installs."""
import os
import shutil
import subprocess
import sys
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


def test_an_installed_package_validates_configs(tmp_path):
    """A plain (not editable) install carries what the packages read at run time: ssl_core.config
    validates a profile against the schema inside the installed package, outside the repository."""
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("ssl_core", "evaluations"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(source)], check=True, capture_output=True)
    code = ("import ssl_core.config as c; print(c.__file__); "
            f"print(len(c.run_matrix(c.load_config({str(ROOT / 'config' / 'config.yaml')!r}))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    where, runs = out.stdout.split()
    assert where.startswith(str(site)) and int(runs) > 0
