"""The claims table and compare-reference on synthetic metrics tables with known answers."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from evaluations import compare, report
from evaluations.__main__ import main
from evaluations.claims import claims_table
from tests.conftest import ROOT
from tests.evaluations.test_report_fig2 import metrics

PAPER = {name: report.read_metrics(ROOT / "results" / "paper" / f"{name}.csv") for name in (
    "fig2_linear", "text_claims", "table1_transfer", "table2_dense", "sensitivity_best", "cosine_study")}
SWEEP = {"name": "sens", "method": "simclr", "arch": "resnet_tiny", "s": {"values": [0.25, 0.75], "k": 4},
         "k": {"values": [4, 8], "s": 0.75}}


def sweep(best: float, seeds=range(3)) -> pd.DataFrame:
    """SimCLR s-sweep runs at k = 4: top-1 60 + seed, 3 points more at s = ``best``."""
    return pd.DataFrame([{"run": f"sweep-{s}-{seed}", "group": "sens", "method": "simclr", "arch": "resnet_tiny",
                          "variant": "rescued", "s": s, "k": 4.0, "seed": seed, "task": "linear", "dataset": "shapes",
                          "metric": "top1", "value": 60 + seed + 3 * (s == best)}
                         for s in SWEEP["s"]["values"] for seed in seeds])


def claim(table, text, arch=None):
    rows = table[table.claim.str.startswith(text)]
    return rows[rows.ours_run.str.contains(arch)] if arch else rows


def test_paper_profile_has_every_claim_not_run():
    table = claims_table(None, PAPER, [])
    assert len(table) == 5 + 30 + 3 + 27 + 8 + 1 and (table.verdict == "not run").all()
    gains = claim(table, "SimCLR ResNet-50: linear top-1 gain")
    assert gains.published.tolist() == [1.1]  # 70.2 - 69.1, as the text states


def test_verdicts_of_stand_ins():
    ours = pd.concat([metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8],     # +1 on every seed
                               ("mocov3", "vit_tiny_test"): [-1, -1.1, -0.9],  # a loss on every seed
                               ("dinov2", "vit_tiny_test"): [1, -1, 0.2]}),    # noise
                      sweep(best=0.75)])
    table = claims_table(ours, PAPER, [SWEEP])
    simclr = claim(table, "SimCLR ResNet-50: linear top-1 gain").iloc[0]
    assert (simclr.verdict, simclr.ours_n, simclr.ours_run) == ("reproduced", 3, "simclr resnet_tiny (main)")
    assert simclr.ours_mean == pytest.approx(1.0) and simclr.resolution == pytest.approx(simclr.ours_high - 1.0)
    assert claim(table, "MoCo v3 ViT-S: linear top-1 gain").verdict.tolist() == ["contradicted"]
    assert claim(table, "MoCo v3 ResNet-50: linear top-1 gain").verdict.tolist() == ["not run"]  # no ResNet MoCo
    assert claim(table, "DINOv2 ViT-L: linear top-1 gain").verdict.tolist() == ["inconclusive"]
    best_s = claim(table, "SimCLR ResNet-50: best s").iloc[0]
    assert best_s.verdict == "reproduced" and "best 0.75 vs 0.25" in best_s.ours_run and best_s.ours_mean == 3.0
    assert claim(table, "SimCLR ResNet-50: best k").verdict.tolist() == ["not run"]  # k = 64 not in our grid
    wrong = claims_table(pd.concat([metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), sweep(best=0.25)]), PAPER, [SWEEP])
    assert claim(wrong, "SimCLR ResNet-50: best s").verdict.tolist() == ["contradicted"]


def test_sweep_runs_do_not_enter_the_main_claims():
    ours = metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8]})
    polluted = pd.concat([ours, ours.assign(group="sens", value=ours.value * 0)])
    assert claims_table(polluted, PAPER, []).equals(claims_table(ours, PAPER, []))


def test_claims_command_writes_csv_and_tex(tmp_path):
    path = tmp_path / "metrics.csv"
    metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8]}).to_csv(path, index=False)
    main(["claims", "--metrics", str(path), "--paper-dir", str(ROOT / "results" / "paper"), "--profile", "tiny",
          "--table", str(tmp_path / "claims")])
    table = pd.read_csv(tmp_path / "claims.csv")
    assert "reproduced" in set(table.verdict) and r"\end{longtable}" in (tmp_path / "claims.tex").read_text()


def test_compare_reference_exact_and_interval(tmp_path, capsys):
    reference = metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8]})
    ref, same, moved = tmp_path / "ref.csv", tmp_path / "same.csv", tmp_path / "moved.csv"
    reference.to_csv(ref, index=False)
    reference.to_csv(same, index=False)
    shifted = reference.copy()
    shifted.loc[(shifted.variant == "rescued") & (shifted.seed == 1) & (shifted.metric == "top1"), "value"] += 0.5
    shifted.to_csv(moved, index=False)
    assert main(["compare-reference", "--ours", str(same), "--reference", str(ref)]) == 0
    assert main(["compare-reference", "--ours", str(moved), "--reference", str(ref)]) == 1
    out = capsys.readouterr().out
    assert "1 of" in out and "simclr-resnet_tiny-rescued-seed1" in out and "0.5000" in out
    assert main(["compare-reference", "--ours", str(moved), "--reference", str(ref), "--atol", "0.6"]) == 0
    # another machine: the mean moved by 0.17, inside the reference's interval (half-width > 0.17)
    assert main(["compare-reference", "--ours", str(moved), "--reference", str(ref), "--mode", "interval"]) == 0
    far = reference.assign(value=reference.value + 10 * (reference.variant == "baseline"))
    table = compare.compare_intervals(far, reference)
    assert set(table[~table.ok].variant) == {"baseline"}
    missing = compare.compare_exact(reference[reference.variant != "supervised"], reference)
    assert (missing[~missing.ok]["where"] == "only in reference").all() and (~missing.ok).sum() == 3 * 2  # 3 seeds x (top1, params_M)
    # a partial rerun (the seed-0 runs only) compares those runs; with a number moved it fails
    partial = tmp_path / "partial.csv"
    reference[reference.seed == 0].to_csv(partial, index=False)
    assert main(["compare-reference", "--ours", str(partial), "--reference", str(ref)]) == 1  # the rest missing
    assert main(["compare-reference", "--ours", str(partial), "--reference", str(ref), "--partial"]) == 0
    assert "runs of the reference not rerun" in capsys.readouterr().out
    shifted[shifted.seed == 1].to_csv(partial, index=False)
    assert main(["compare-reference", "--ours", str(partial), "--reference", str(ref), "--partial"]) == 1


def test_cosine_claim_interval_is_over_images():
    """The cosine study's difference common - strong gets a t interval over its images from the
    per-image std; a table written without that std has one value and no interval."""
    def cosine(common, strong, sd, n=400):
        table = pd.DataFrame({"views": ["common", "strong"], "ours": [common, strong], "n_images": n,
                              "our_encoder": "simclr-resnet_tiny-baseline-seed0 (resnet_tiny)"})
        return table.assign(diff_sd=sd) if sd is not None else table

    row = claim(claims_table(None, PAPER, [], cosine(0.80, 0.70, sd=0.2)), "mean cosine").iloc[0]
    half = 1.9659 * 0.2 / 20  # t_{0.975, 399} = 1.9659
    assert (row.verdict, row.ours_n) == ("reproduced", 400)
    assert row.ours_mean == pytest.approx(0.1) and row.resolution == pytest.approx(half, rel=1e-3)
    assert claim(claims_table(None, PAPER, [], cosine(0.70, 0.80, sd=0.2)), "mean cosine").verdict.tolist() == ["contradicted"]
    assert claim(claims_table(None, PAPER, [], cosine(0.80, 0.79, sd=0.5)), "mean cosine").verdict.tolist() == ["inconclusive"]
    assert claim(claims_table(None, PAPER, [], cosine(0.80, 0.70, sd=None)), "mean cosine").verdict.tolist() == ["inconclusive"]


def test_snapshot_copies_results_and_records_the_run(tmp_path):
    results, out = tmp_path / "results" / "small", tmp_path / "reference" / "small"
    for name in ("metrics.csv", "tables/claims.csv", "tables/claims.tex", "figures/fig2.png", "figures/fig2.pdf"):
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text(name)
    assert main(["snapshot", "--results", str(results), "--out", str(out), "--wall-seconds", "61.5",
                 "--commit", "abc123"]) == 0
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert (manifest["profile"], manifest["commit"], manifest["wall_seconds"]) == ("small", "abc123", 61.5)
    assert manifest["machine"]["cores"] >= 1 and manifest["machine"]["torch"].startswith("2.14.1")
    assert sorted(manifest["files"]) == ["figures/fig2.png", "metrics.csv", "tables/claims.csv", "tables/claims.tex"]
    assert (out / "tables" / "claims.tex").read_text() == "tables/claims.tex" and not (out / "figures" / "fig2.pdf").exists()
    with pytest.raises(SystemExit, match="holds no finished run"):
        main(["snapshot", "--results", str(tmp_path / "nothing"), "--out", str(out), "--wall-seconds", "1"])


def test_snapshot_records_the_rescue_bn_rule(tmp_path):
    results, out = tmp_path / "results" / "small", tmp_path / "reference" / "small"
    (results / "tables").mkdir(parents=True)
    (results / "metrics.csv").write_text("run\n")
    for run, spec in (("a", {"variant": "rescued", "rescue": {"bn": "common", "topk": "global"}}),
                      ("b", {"variant": "rescued"}), ("c", {"variant": "baseline"})):
        (results / "pretrain" / run).mkdir(parents=True)
        (results / "pretrain" / run / "run.json").write_text(json.dumps({"spec": spec}))
    main(["snapshot", "--results", str(results), "--out", str(out), "--wall-seconds", "1", "--commit", "abc"])
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["rescue_bn"] == ["common", "own_batch (made before bb2e21b)"]
