"""Whether the DAG's models learn, through the DAG's own jobs: SimCLR's trained baseline is well
above the random-init backbone it started from. Marked ``learning``: `make test` checks the
DAG's mechanics on a profile of a few steps (tests/test_workflow.py::mechanics_config) and leaves
this out; `make check-learning` runs it (CI: .ci/run, after `make test`).

The schedule is the one tests/test_workflow.py's end-to-end DAG used before it became the
mechanics profile: 512 / 128 shapes, SimCLR's main runs 8 epochs at batch 64 (64 steps), the
5-epoch probe; there its baseline scored 35.2 against 12.5 for its random-init floor (one seed;
8 steps at batch 128 gave 19.5)."""
import json

import pytest
import yaml

from ssl_core.config import MAIN_GROUP, load_config, run_matrix
from test_workflow import copy_workflow, snakemake

pytestmark = pytest.mark.learning

# The margin asked of the SimCLR baseline over its floor: about half of the one measured (+22.7 points).
FLOOR_MARGIN = 10.0


@pytest.fixture(scope="module")
def simclr_top1(tmp_path_factory) -> dict[str, float]:
    """variant -> linear top-1 of SimCLR's main baseline and its random-init floor, seed 0."""
    wf = copy_workflow(tmp_path_factory.mktemp("learning"))
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    cfg["data"]["shapes"].update(n_train=512, n_val=128)
    cfg["methods"]["simclr"]["recipe"].update(epochs=8, batch_size=64)
    cfg["eval"]["linear"]["epochs"] = 5
    (wf / "learning.yaml").write_text(yaml.safe_dump(cfg))
    runs = {s["variant"]: r for r, s in run_matrix(load_config(wf / "learning.yaml")).items()
            if s["method"] == "simclr" and MAIN_GROUP in s["groups"] and s["variant"] in ("baseline", "random_init")
            and s["seed"] == 0}
    probes = {variant: f"results/tiny/eval/linear/{run}.json" for variant, run in runs.items()}
    # the targets before --configfile, which takes every path after it as a config file
    snakemake(*probes.values(), "-c2", "--configfile", "learning.yaml", cwd=wf)
    return {variant: json.loads((wf / path).read_text())["value"] for variant, path in probes.items()}


def test_baseline_beats_its_floor(simclr_top1):
    """The trained SimCLR baseline's linear top-1 is well above the backbone it started from."""
    assert set(simclr_top1) == {"baseline", "random_init"}
    assert simclr_top1["baseline"] >= simclr_top1["random_init"] + FLOOR_MARGIN, simclr_top1
