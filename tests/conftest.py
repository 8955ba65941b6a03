"""Shared fixtures: small on-disk data so tests never download anything."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dag_state: runs Snakemake and reads what the DAG has left to do; must pass "
                            "beside a finished tiny run (tests/test_workflow.py::test_dag_state_tests_pass_beside_a_finished_run)")
    config.addinivalue_line("markers", "learning: trains long enough to check that a model learns; left out of "
                            "`make test` (pyproject addopts), run by `make check-learning` (CI: .ci/run)")
    config.addinivalue_line("markers", "processes: trains in several processes (torchrun, gloo) against one; left out "
                            "of `make test` for its time (pyproject addopts), run by `make test-processes` (CI: .ci/run)")


#: Modules that take minutes here (their module-scoped fixtures: the mechanics DAG first), started
#: first so that none of them starts last (measured with --durations; docs/measurements.md).
SLOWEST_FIRST = ("tests/test_workflow.py", "tests/ssl_core/test_distributed.py", "tests/test_faults.py",
                 "tests/ssl_core/test_preemption.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs on two pytest-xdist workers a module at a time (``--dist loadscope``: a
    module's module-scoped fixtures are built once) in the collection order (``--no-loadscope-reorder``),
    which puts :data:`SLOWEST_FIRST` first."""
    rank = {module: i for i, module in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def write_image_folder(root: Path, n_per_class: int, n_classes: int = 2, size: int = 16, seed: int = 0) -> Path:
    """A random-pixel ImageFolder tree ``root/<class>/<i>.png``."""
    rng = np.random.default_rng(seed)
    for c in range(n_classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    write_image_folder(tmp_path / "data" / "train", n_per_class=16)
    write_image_folder(tmp_path / "data" / "val", n_per_class=4, seed=1)
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _few_threads():
    # Two CI cores: keep each test's torch to one thread so parallel work does not thrash.
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    yield


HIDE_DETECTRON2 = '''import sys


class _NoDetectron2:
    """Tests: behave as if Detectron2 were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "detectron2" or name.startswith("detectron2."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoDetectron2())
'''


def env_without_detectron2(tmp: Path) -> dict[str, str]:
    """An environment whose Python processes cannot import detectron2 (a sitecustomize hook)."""
    (tmp / "sitecustomize.py").write_text(HIDE_DETECTRON2)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT), os.environ.get("PYTHONPATH", "")])}


class StopAt:
    """A preemption (ssl_core.preemption.Preemption's ``requested``) whose signal arrives once the
    job has asked ``n`` times: after n steps, probe iterations or dense iterations (the resume tests)."""

    reason = "SIGUSR1"

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    @property
    def requested(self) -> bool:
        self.calls += 1
        return self.calls >= self.n
