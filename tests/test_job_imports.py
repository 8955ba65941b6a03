"""What each kind of DAG job imports at start-up. Every job is a fresh interpreter, so a heavy import
is paid once per job (85 jobs in the tiny DAG): torch ~2 s, torchvision ~1.5 s, lightly with timm
~0.5 s on this project's development machine (README, "How long")."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after ``import module``."""
    code = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module, absent", [
    # metrics.csv (aggregate; read by every table, compare-reference, power), then the tables and
    # figures made from it (fig2, fig4-6, table1, table2) and the generators
    ("evaluations.results", {"torch", "torchvision", "lightly", "timm", "matplotlib"}),
    ("evaluations.fig2", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.sensitivity", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.table1", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.table2", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.claims", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.forest", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.compare", {"torch", "torchvision", "lightly", "timm"}),
    ("evaluations.__main__", {"torch", "matplotlib", "pandas"}),
    ("ssl_core.datasets.shapes", {"torch", "torchvision"}),
    # the config's validation and the workflow read the methods' names, labels and recipe schemas
    ("ssl_core.config", {"torch", "torchvision", "lightly"}),
    ("ssl_core.methods", {"torch", "torchvision", "lightly"}),
    # the image check (PIL only) and the CLI that starts it or a pretraining (torch when it trains)
    ("ssl_core.datasets.check", {"torch", "torchvision", "numpy"}),
    ("ssl_core.__main__", {"torch", "torchvision"}),
    # evaluations load a backbone, not the pretraining methods
    ("evaluations.linear_probe", {"lightly", "timm", "matplotlib"}),
    ("ssl_core.backbones", {"lightly", "timm"}),
    ("evaluations.transfer.evaluate", {"lightly", "timm", "matplotlib"}),
])
def test_jobs_import_only_what_they_use(module, absent):
    found = imported(module) & absent
    assert not found, f"{module} imports {sorted(found)}"
