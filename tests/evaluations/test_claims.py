"""The claims table and compare-reference on synthetic metrics tables with known answers."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from evaluations import compare, results, stats
from evaluations.__main__ import main
from evaluations.claims import COLUMNS, TUNED, claims_latex, claims_table
from evaluations.forest import forest_figure, forest_rows
from evaluations.linear_probe import write_predictions
from tests.conftest import ROOT
from tests.evaluations.test_fig2 import metrics

PAPER = {name: results.read_metrics(ROOT / "results" / "paper" / f"{name}.csv") for name in (
    "fig2_linear", "text_claims", "table1_transfer", "table2_dense", "sensitivity_best", "cosine_study")}
SWEEP = {"name": "sens", "method": "simclr", "arch": "resnet_tiny", "s": {"values": [0.25, 0.75], "k": 4},
         "k": {"values": [4, 8], "s": 0.75}}


def sweep(best: float, seeds=range(3), baselines: bool = True) -> pd.DataFrame:
    """SimCLR s-sweep runs at k = 4: top-1 60 + seed, 3 points more at s = ``best``; the sweep's
    baselines at 61 + seed (a gain of +2 at ``best``, -1 elsewhere, on every seed)."""
    row = {"group": "sens", "method": "simclr", "arch": "resnet_tiny", "task": "linear", "dataset": "shapes",
           "metric": "top1"}
    rescued = [{**row, "run": f"sweep-{s}-{seed}", "variant": "rescued", "s": s, "k": 4.0, "seed": seed,
                "value": 60 + seed + 3 * (s == best)} for s in SWEEP["s"]["values"] for seed in seeds]
    base = [{**row, "run": f"sweep-baseline-{seed}", "variant": "baseline", "s": float("nan"), "k": float("nan"),
             "seed": seed, "value": 61 + seed} for seed in seeds]
    return pd.DataFrame(rescued + (base if baselines else []))


def claim(table, text, arch=None):
    """The rows whose claim starts with ``text`` (a linear claim's row at s tuned as in Sec. 5 only
    where ``text`` names it: test_claims_tuned.py reads those)."""
    rows = table[table.claim.str.startswith(text) & (table.claim.str.endswith(TUNED) == text.endswith(TUNED))]
    return rows[rows.ours_run.str.contains(arch)] if arch else rows


def test_paper_profile_has_every_claim_not_run():
    table = claims_table(None, PAPER, [])
    assert len(table) == 5 + 5 + 30 + 3 + 27 + 8 + 1 and (table.verdict == "not run").all()  # 5 linear claims twice
    # all but the cosine and the 5 linear claims at s tuned as in Sec. 5 (no tuning profile given)
    assert (table.note == "not run yet: no metrics.csv of this profile").sum() == len(table) - 1 - 5
    assert claim(table, "mean cosine").note.tolist() == ["no cosine study (tables/cosine_study.csv) given"]
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
    dino = claim(table, "DINOv2 ViT-L: linear top-1 gain").iloc[0]
    assert dino.verdict == "inconclusive (underpowered)" and dino.detectable > 0.5  # published +0.5
    assert dino.note.startswith(f"descriptive: {dino.ours_n} pairs detect")  # said in the note
    assert dino.ours_values == "1.0000;-1.0000;0.2000"  # the paired differences by seed
    best_s = claim(table, "SimCLR ResNet-50: best s").iloc[0]
    # the gain at the paper's s = 0.75 is +2 on every seed (-1 at 0.25): slope +6 per unit of s
    assert best_s.verdict == "reproduced" and "gain at s = 0.75" in best_s.ours_run and best_s.ours_mean == 2.0
    assert "slope +6.00 [+6.00, +6.00] per unit of s" in best_s.note
    # rliable's P(rescued > baseline) compares every rescued run with every baseline run (unpaired):
    # rescued 63, 64, 65 against baselines 61, 62, 63: 8 wins and a tie of 9 pairs
    assert best_s.poi == pytest.approx(8.5 / 9)
    k = claim(table, "SimCLR ResNet-50: best k").iloc[0]
    assert k.verdict == "not run" and k.note == "k = 64 outside our grid (4)"  # the k sweep ran at k = 4 only here
    wrong = claims_table(pd.concat([metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), sweep(best=0.25)]), PAPER, [SWEEP])
    assert claim(wrong, "SimCLR ResNet-50: best s").verdict.tolist() == ["contradicted"]  # -1 at 0.75
    assert "the gain falls with s" in claim(wrong, "SimCLR ResNet-50: best s").note.iloc[0]
    alone = claims_table(pd.concat([metrics({("simclr", "resnet_tiny"): [1, 1, 1]}), sweep(0.75, baselines=False)]),
                         PAPER, [SWEEP])
    assert claim(alone, "SimCLR ResNet-50: best s").note.tolist() == ["the sweep has no baseline runs"]


def test_power_columns_and_new_verdicts():
    # 6 pairs, differences with SD 0.5 around +0.3 (published +1.1): the interval excludes 1.1 below
    small = [0.3 + d for d in (-0.5, 0.5, -0.25, 0.25, 0.0, 0.0)]
    ours = metrics({("simclr", "resnet_tiny"): small, ("mocov3", "resnet_tiny"): [2, -3, 4, -1, 0.5, 1]},
                   seeds=range(6))
    table = claims_table(ours, PAPER, [], dense_status="not run: Detectron2 not installed")
    simclr = claim(table, "SimCLR ResNet-50: linear top-1 gain").iloc[0]
    sd = pd.Series(small).std()
    assert simclr.verdict == "smaller than published" and simclr.sd == pytest.approx(sd)
    assert simclr.detectable == pytest.approx(stats.detectable_effect(sd, 6))
    assert simclr.pairs_for_pm1 == stats.pairs_for_half_width(1.0, sd)
    assert simclr.pairs_for_published == stats.pairs_for_power(1.1, sd)
    assert 0 <= simclr.poi_low <= simclr.poi <= simclr.poi_high <= 1
    mocov3 = claim(table, "MoCo v3 ResNet-50: linear top-1 gain").iloc[0]
    assert mocov3.verdict == "inconclusive (underpowered)" and mocov3.detectable > 0.6
    assert claim(table, "SimCLR ResNet-50: det_voc AP gain").note.tolist() == ["Detectron2 not installed"]
    assert claim(table, "DINOv2 ViT-L: det_voc AP gain").note.tolist() == ["not in this profile: no DINOv2 ViT run"]
    assert claim(table, "SimCLR ResNet-50: transfer gain on DTD").note.tolist() == [
        "no transfer evaluation of its runs in this profile"]
    assert (table[table.verdict == "not run"].note != "").all()  # every row not run says why


def test_a_method_beyond_the_paper_gets_its_rows_last():
    """A method the paper lacks: its linear (and transfer / dense) gains as rows of source 'beyond the
    paper' after the paper's claims, no published value, the better variant as the verdict; the
    paper's rows are those without it."""
    ours = metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8], ("byol", "resnet_tiny"): [1, 1.2, 0.8],
                    ("newssl", "resnet_tiny"): [1, -1, 0.2]})
    byol = ours[(ours.method == "byol") & (ours.task == "linear")]
    other = [byol.assign(task=results.TRANSFER_TASK, dataset="dtd", value=-byol.value),  # rescued worse
             byol.assign(task="seg_coco", dataset="coco", metric="AP"),  # after det_voc, as in Table 2
             byol.assign(task="det_voc", dataset="voc", metric="AP"),
             byol.assign(task="det_voc", dataset="voc", metric="APs")]  # not a column of Table 2: no row
    table = claims_table(pd.concat([ours, *other]), PAPER, [])
    beyond = table[table.source == results.BEYOND]
    assert beyond.claim.tolist() == ["BYOL ResNet-tiny: linear top-1 gain", "BYOL ResNet-tiny: transfer gain on DTD",
                                     "BYOL ResNet-tiny: det_voc AP gain", "BYOL ResNet-tiny: seg_coco AP gain",
                                     "newssl ResNet-tiny: linear top-1 gain"]
    assert table.index[-5:].tolist() == beyond.index.tolist()  # last
    assert beyond.verdict.tolist() == ["rescued better", "baseline better", "rescued better", "rescued better",
                                       "no difference resolved"]
    assert beyond.published.isna().all()
    byol = beyond.iloc[0]
    assert byol.ours_mean == pytest.approx(1.0) and byol.ours_n == 3 and byol.ours_run == "byol resnet_tiny (main)"
    assert byol.detectable == pytest.approx(stats.detectable_effect(0.2, 3))
    assert byol.note == f"descriptive: 3 pairs detect {byol.detectable:.2f} with 80 % power"
    linear = claims_table(ours, PAPER, [])  # the paper's rows are those of the paper's methods alone
    assert linear[linear.source != results.BEYOND].equals(
        claims_table(metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8]}), PAPER, []))
    assert "BYOL ResNet-tiny: linear top-1 gain & beyond the paper & -- &" in claims_latex(table, "tiny")


def test_a_family_left_out_of_table2_says_why():
    """eval.dense.left_out: a family the profile runs but leaves out of Table 2 has its reason as the note."""
    ours = metrics({("mocov3", "vit_s_tiny"): [1, 2, 3], ("simclr", "resnet_tiny"): [1, 2, 3]})
    why = "ViTDet did not separate a trained tiny ViT from its random init"
    table = claims_table(ours, PAPER, [], dense_left_out={"vit": why})
    assert claim(table, "MoCo v3 ViT-B: det_voc AP gain").note.tolist() == [f"not in this profile: {why}"]
    assert claim(table, "SimCLR ResNet-50: det_coco AP gain").note.tolist() == ["not in this profile: no dense evaluation"]
    assert claim(table, "DINOv2 ViT-L: seg_coco AP gain").note.tolist() == ["not in this profile: no DINOv2 ViT run"]


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
    assert list(table.columns) == COLUMNS
    main(["forest", "--claims", str(tmp_path / "claims.csv"), "--profile", "tiny", "--figure", str(tmp_path / "forest")])
    assert (tmp_path / "forest.png").stat().st_size > 0 and (tmp_path / "forest.pdf").stat().st_size > 0
    assert forest_rows(table).claim.tolist() == ["SimCLR ResNet-50: linear top-1 gain"]


def test_forest_of_a_profile_not_run(tmp_path):
    table = claims_table(None, PAPER, [])
    assert forest_rows(table).empty
    forest_figure(table, "paper", tmp_path / "forest")
    assert (tmp_path / "forest.png").stat().st_size > 0


def test_power_command_on_a_metrics_table(tmp_path, capsys):
    path = tmp_path / "metrics.csv"
    metrics({("simclr", "resnet_tiny"): [1, 1.2, 0.8]}).to_csv(path, index=False)
    main(["power", "--metrics", str(path)])
    out = capsys.readouterr().out
    sd = pd.Series([1, 1.2, 0.8]).std()
    assert "simclr resnet_tiny linear shapes top1" in out and "params_M" not in out
    assert f" {stats.pairs_for_half_width(1.0, sd)} " in out and f"{stats.detectable_effect(sd, 3):.2f}" in out
    with pytest.raises(SystemExit, match="no runs of group 'sens'"):
        main(["power", "--metrics", str(path), "--group", "sens"])
    with pytest.raises(SystemExit, match="cannot read"):
        main(["power", "--metrics", str(tmp_path / "missing.csv")])
    # per-image predictions of seeds 0 and 1 (seed 2 has none): 100 images, the runs differ on 10
    for seed in (0, 1):
        for variant, wrong in (("baseline", range(10)), ("rescued", range(5, 15))):
            write_predictions(tmp_path / f"simclr-resnet_tiny-{variant}-seed{seed}.predictions.csv.gz", [0] * 100,
                              [int(i in wrong) for i in range(100)])
    main(["power", "--metrics", str(path), "--predictions", str(tmp_path)])
    out = capsys.readouterr().out
    d = pd.Series([0] * 5 + [-1] * 5 + [1] * 5 + [0] * 85)  # rescued right on 0-4, wrong on 10-14
    share = 1e4 * d.var() / 100 / sd ** 2
    assert f"simclr resnet_tiny top1: 2 seeds, 10% of the images, {share:.0%}" in out


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
    assert claim(claims_table(None, PAPER, [], cosine(0.80, 0.79, sd=0.5)), "mean cosine").verdict.tolist() == [
        "inconclusive (underpowered)"]  # detects 0.07 with 80 % power, published 0.0379
    assert claim(claims_table(None, PAPER, [], cosine(0.80, 0.70, sd=None)), "mean cosine").verdict.tolist() == [
        "inconclusive (underpowered)"]  # one value


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


def test_snapshot_in_parts_keeps_each_parts_runs_and_the_predictions(tmp_path):
    """A part lists its probed runs (not a pretraining that was stopped before its probe), and a part
    built in a results dir of its own keeps the earlier parts' metrics rows in the reference."""
    results, out = tmp_path / "results" / "verdict", tmp_path / "reference" / "verdict"
    header = "run,group,metric,value"

    def finish(run, probed=True):
        (results / "pretrain" / run).mkdir(parents=True)
        (results / "pretrain" / run / "run.json").write_text(json.dumps({"spec": {"variant": "baseline"},
                                                                            "torch_threads": 1}))
        if probed:
            (results / "eval" / "linear").mkdir(parents=True, exist_ok=True)
            (results / "eval" / "linear" / f"{run}.json").write_text("{}")
            (results / "eval" / "linear" / f"{run}.predictions.csv.gz").write_bytes(run.encode())

    finish("a")
    finish("c", probed=False)
    (results / "metrics.csv").write_text(f"{header}\na,main,top1,50.1000\n")
    main(["snapshot", "--results", str(results), "--out", str(out), "--wall-seconds", "60", "--commit", "c1",
          "--part", "one"])
    shutil.rmtree(results)  # the next part in a results dir of its own
    finish("b")
    finish("c")
    (results / "metrics.csv").write_text(f"{header}\nb,main,top1,49.0000\nc,main,top1,48.0000\n")
    main(["snapshot", "--results", str(results), "--out", str(out), "--wall-seconds", "30", "--commit", "c2",
          "--part", "two"])
    manifest = json.loads((out / "MANIFEST.json").read_text())
    parts = manifest["parts"]
    assert (parts["one"]["commit"], parts["one"]["runs"]) == ("c1", ["a"])  # c was stopped before its probe
    assert (parts["two"]["commit"], parts["two"]["runs"]) == ("c2", ["b", "c"])
    assert (out / "metrics.csv").read_text().splitlines() == [header, "a,main,top1,50.1000", "b,main,top1,49.0000",
                                                              "c,main,top1,48.0000"]
    assert manifest["wall_seconds"] == 90 and manifest["torch_threads"] == [1] and manifest["predictions"] == 3
    from ssl_core.host import cpu_model  # each part records its machine's CPU type (evaluations.cpu)
    assert parts["one"]["cpu"] == parts["two"]["cpu"] == cpu_model() == manifest["machine"]["cpu"]
    assert (out / "predictions" / "b.predictions.csv.gz").read_bytes() == b"b"
    (results / "metrics.csv").write_text("run,value\nb,1\n")
    with pytest.raises(SystemExit, match="other columns"):
        main(["snapshot", "--results", str(results), "--out", str(out), "--wall-seconds", "1", "--part", "three"])


def test_moco_v3_vit_claims_read_their_declared_stand_ins():
    """MoCo v3 ViT-S's claim is decided by vit_s_tiny alone and ViT-B's by vit_b_tiny alone."""
    ours = metrics({("mocov3", "vit_s_tiny"): [1, 1.2, 0.8], ("mocov3", "vit_b_tiny"): [-1, -1.1, -0.9]})
    table = claims_table(ours, PAPER, [])
    small = claim(table, "MoCo v3 ViT-S: linear top-1 gain")
    base = claim(table, "MoCo v3 ViT-B: linear top-1 gain")
    assert small.ours_run.tolist() == ["mocov3 vit_s_tiny (main)"] and small.verdict.tolist() == ["reproduced"]
    assert base.ours_run.tolist() == ["mocov3 vit_b_tiny (main)"] and base.verdict.tolist() == ["contradicted"]


def test_a_sweep_answers_the_paper_architecture_it_stands_in_for():
    """A MoCo v3 sweep on the ViT-S stand-in answers the ViT-S row only: the ViT-B row says why it
    has none (the declared stand-in rule of Fig. 2, evaluations.arch_stand_ins.STAND_IN_FOR)."""
    moco = sweep(best=0.25).assign(method="mocov3", arch="vit_s_tiny", s=lambda d: d.s.map({0.25: 0.025, 0.75: 0.5}))
    moco_sweep = {**SWEEP, "method": "mocov3", "arch": "vit_s_tiny", "s": {"values": [0.025, 0.5], "k": 4}}
    table = claims_table(pd.concat([metrics({("mocov3", "vit_s_tiny"): [1, 1, 1]}), moco]), PAPER, [moco_sweep])
    vit_s = claim(table, "MoCo v3 ViT-S: best s").iloc[0]
    assert vit_s.verdict != "not run" and "vit_s_tiny" in vit_s.ours_run
    vit_b = claim(table, "MoCo v3 ViT-B: best s").iloc[0]
    assert vit_b.verdict == "not run" and "no sweep of MoCo v3 ViT that stands in for ViT-B" in vit_b.note
