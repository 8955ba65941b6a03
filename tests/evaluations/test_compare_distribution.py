"""compare-reference against a reference of another CPU type: read by distribution, not seed by seed."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from evaluations import compare
from evaluations.__main__ import main
from evaluations.results import write_csv


def table(shift: float, gain: float, seeds, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        level = 50 + shift + rng.normal(0, noise)
        for variant, value in (("baseline", level), ("rescued", level + gain + rng.normal(0, 0.5))):
            rows.append({"run": f"simclr-{variant}-seed{s}", "group": "main", "method": "simclr", "arch": "resnet_tiny",
                         "variant": variant, "s": 0.75 if variant == "rescued" else np.nan,
                         "k": 2 if variant == "rescued" else np.nan, "seed": s, "task": "linear", "dataset": "shapes",
                         "metric": "top1", "value": value})
    return pd.DataFrame(rows)


def test_distribution_reads_levels_and_gains_by_the_reference_spread():
    reference = table(0, -10, range(24), 2.0, 0)
    same = compare.compare_distribution(table(0, -10, range(8), 2.0, 1), reference)
    assert set(same.what) == {"level", "gain"} and same.ok.all()
    moved = compare.compare_distribution(table(0, -2, range(8), 2.0, 1), reference)  # the gain differs by 8
    assert moved[["what", "variant", "ok"]].values.tolist() == [
        ["level", "baseline", True], ["level", "rescued", False], ["gain", "rescued - baseline", False]]


def test_compare_reference_switches_to_distribution_on_another_cpu(tmp_path, capsys):
    ref_dir, ours_dir = tmp_path / "reference" / "verdict", tmp_path / "results" / "verdict"
    reference, ours = table(0, -10, range(24), 2.0, 0), table(0.5, -10, range(8), 2.0, 1)  # every number differs
    write_csv(reference, ref_dir / "metrics.csv")
    write_csv(ours, ours_dir / "metrics.csv")
    (ref_dir / "MANIFEST.json").write_text(json.dumps({"profile": "verdict", "machine": {"cpu": "Some Other CPU"},
                                                       "parts": {"a": {"runs": sorted(set(reference.run))}}}))
    rc = main(["compare-reference", "--ours", str(ours_dir / "metrics.csv"), "--reference",
               str(ref_dir / "metrics.csv"), "--partial"])
    out = capsys.readouterr().out
    assert "trained on Some Other CPU" in out and "read by distribution" in out
    assert rc == 0 and "0 of 3 numbers differ" in out
