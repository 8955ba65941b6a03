"""Command line of the evaluations, one call per Snakemake rule:

  python -m evaluations linear    --backbone B --spec JSON --config-json JSON --out OUT.json [--ckpt DIR]
  python -m evaluations aggregate --runs R1 R2 .. --evals E1 E2 .. --groups JSON --out metrics.csv
  python -m evaluations fig3      --spec JSON --figure STEM
  python -m evaluations cosine    --backbone B --spec JSON --paper results/paper/cosine_study.csv [--n-images N] --out CSV
  python -m evaluations sensitivity --metrics metrics.csv --sweep JSON --param s|k --profile P --figure STEM
  python -m evaluations fig2      --metrics metrics.csv --paper results/paper/fig2_linear.csv --profile P --table STEM --figure STEM
  python -m evaluations dense-data    --shapes ROOT --out DIR --n-train N --n-test N
  python -m evaluations miniature-data --out DIR
  python -m evaluations dense-check --data-json JSON --out MARKER
  python -m evaluations dense-convert --backbone B --out WEIGHTS.pkl
  python -m evaluations dense     --task voc|coco --backbone B --weights PKL --spec JSON --config-json JSON --data-json JSON --workdir DIR --out OUT.json
  python -m evaluations table2    --metrics metrics.csv --paper results/paper/table2_dense.csv --profile P --status TEXT --table STEM
  python -m evaluations transfer-data --config-json JSON --out ROOT
  python -m evaluations download  --dataset D --root ROOT --out MARKER
  python -m evaluations transfer-check --dataset D --root ROOT --workers N --out MARKER
  python -m evaluations transfer  --backbone B --run RUN --dataset D --config-json JSON --device DEV --cache-dir DIR --threads N --out OUT.json
  python -m evaluations table1    --metrics metrics.csv --paper results/paper/table1_transfer.csv --profile P --table STEM
  python -m evaluations fig4      --metrics metrics.csv --paper results/paper/table1_transfer.csv --profile P --method M --figure STEM
  python -m evaluations curves    --runs DIR1 DIR2 .. --method M --profile P --figure STEM [--window W]
  python -m evaluations claims    [--metrics metrics.csv] [--cosine CSV] --paper-dir results/paper --sweeps JSON --profile P --table STEM [--dense-status TEXT] [--dense-left-out JSON] [--tuned DIR]
  python -m evaluations forest    --claims claims.csv --profile P --figure STEM
  python -m evaluations power     --metrics metrics.csv [--group main] [--effect 1.0] [--half-width 1.0] [--predictions DIR]
  python -m evaluations compare-reference --ours results/P/metrics.csv --reference results/reference/P/metrics.csv [--mode exact|interval|distribution] [--atol X] [--partial]
  python -m evaluations interim  --configfile config/P.yaml --results results/P [--paper-dir results/paper] [--tuned DIR]
  python -m evaluations snapshot --results results/P --out results/reference/P --wall-seconds S [--commit SHA]
  python -m evaluations tuning   --configfile config/tuning.yaml --results results/tuning [--drop-mixed-cpu]
  python -m evaluations collapse --metrics metrics.csv [--group G]
"""
from __future__ import annotations

import argparse
import json
import sys

from ssl_core.config import MAIN_GROUP  # the runs of Fig. 2, Tables 1-2 and the radars
from ssl_core.methods import method_names


def _linear(args: argparse.Namespace) -> None:
    import hashlib
    import shutil

    from evaluations.linear_probe import train_linear_probe, write_predictions
    from ssl_core.backbones import load_backbone
    from ssl_core.distributed import resolve_device
    from ssl_core.io import write_json
    from ssl_core.preemption import Preemption

    spec, cfg = json.loads(args.spec), json.loads(args.config_json)
    with open(args.backbone, "rb") as f:  # the probe's state is resumed only onto the same backbone
        backbone_sha = hashlib.file_digest(f, "sha256").hexdigest()
    with Preemption() as preemption:  # SLURM's --signal before the time limit: save, exit 3, resume
        result = train_linear_probe(
            load_backbone(args.backbone), spec["data"], cfg, image_size=spec["recipe"]["image_size"], seed=spec["seed"],
            num_workers=spec["data"]["num_workers"], device=resolve_device(spec["train"]["device"]),
            ckpt_dir=args.ckpt, identity={"run": spec["run"], "backbone_sha256": backbone_sha}, preemption=preemption)
    dataset = {"imagenet": "imagenet1k"}.get(spec["data"]["name"], spec["data"]["name"])
    predictions = result.pop("predictions")
    if args.predictions:
        write_predictions(args.predictions, predictions["label"], predictions["predicted"])
    write_json(args.out, {"run": spec["run"], "task": "linear", "dataset": dataset, **result})
    if args.ckpt:  # done: the layers' state (up to ~2 GB for dinov2's grid) is not needed again
        shutil.rmtree(args.ckpt, ignore_errors=True)


def _aggregate(args: argparse.Namespace) -> None:
    from evaluations.results import aggregate, write_csv

    write_csv(aggregate(args.runs, args.evals, json.loads(args.groups)), args.out)


def _fig2(args: argparse.Namespace) -> None:
    from evaluations.fig2 import fig2_figure, fig2_latex, fig2_table
    from evaluations.formatting import write_table
    from evaluations.results import read_metrics

    ours, paper = read_metrics(args.metrics, MAIN_GROUP), read_metrics(args.paper)
    table = fig2_table(ours, paper, args.profile)
    write_table(table, fig2_latex(table, args.profile), args.table)
    fig2_figure(ours, paper, args.profile, args.figure)


def _curves(args: argparse.Namespace) -> None:
    from evaluations.curves import curves_figure, read_runs

    curves_figure(read_runs(args.runs), args.method, args.profile, args.figure, args.window)


def _fig3(args: argparse.Namespace) -> None:
    from evaluations.augment_figure import fig3_figure

    fig3_figure(json.loads(args.spec), args.figure)


def _sensitivity(args: argparse.Namespace) -> None:
    from evaluations.results import read_metrics, write_csv
    from evaluations.sensitivity import sensitivity_figure, sensitivity_table

    sweep = json.loads(args.sweep)
    ours = read_metrics(args.metrics, sweep["group"])
    table = sensitivity_table(ours, args.param, sweep["rescued"], sweep["baselines"])
    fixed = f"k = {sweep['fixed']}" if args.param == "s" else f"s = {sweep['fixed']:g}"
    sensitivity_figure(table, args.param, sweep["method"], fixed, args.profile, args.figure, sweep.get("main"))
    write_csv(table, f"{args.figure}.csv")


def _cosine(args: argparse.Namespace) -> None:
    from evaluations.cosine_study import cosine_table
    from evaluations.results import write_csv

    write_csv(cosine_table(args.backbone, json.loads(args.spec), args.paper, args.n_images), args.out)


def _dense_data(args: argparse.Namespace) -> None:
    from evaluations.dense.data import write_dense_shapes

    write_dense_shapes(args.shapes, args.out, n_train=args.n_train, n_test=args.n_test)


def _miniature_data(args: argparse.Namespace) -> None:
    from evaluations.miniature import write_miniature

    write_miniature(args.out)


def _dense_check(args: argparse.Namespace) -> None:
    from evaluations.dense.check import DataCheckError, check_dense_data

    try:
        check_dense_data(json.loads(args.data_json), args.out)
    except DataCheckError as e:
        sys.exit(str(e))


def _dense_convert(args: argparse.Namespace) -> None:
    from evaluations.dense.convert import convert_backbone

    print(json.dumps(convert_backbone(args.backbone, args.out)))


def _dense(args: argparse.Namespace) -> None:
    from evaluations.dense import DETECTRON2_MISSING, detectron2_available
    from evaluations.dense.convert import describe
    from ssl_core.io import load_torch

    if not detectron2_available():
        sys.exit(DETECTRON2_MISSING)
    import torch

    from evaluations.dense.detectron import launch_dense

    torch.set_num_threads(args.threads)
    spec, state = json.loads(args.spec), load_torch(args.backbone)
    info = describe(state["arch"], state.get("kwargs", {}), state["state_dict"])
    launch_dense(spec["run"], args.task, info, json.loads(args.config_json), json.loads(args.data_json),
                 args.weights, args.workdir, spec["seed"], args.out)


def _table2(args: argparse.Namespace) -> None:
    from evaluations.formatting import write_table
    from evaluations.results import read_metrics
    from evaluations.table2 import table2_latex, table2_table

    ours, paper = read_metrics(args.metrics, MAIN_GROUP), read_metrics(args.paper)
    table = table2_table(ours, paper, args.profile, args.status)
    write_table(table, table2_latex(table, args.profile), args.table)


def _transfer_data(args: argparse.Namespace) -> None:
    from evaluations.transfer.standins import STANDINS
    from evaluations.transfer.standins import build_standins

    cfg = json.loads(args.config_json)
    build_standins(args.out, names=tuple(d for d in cfg["datasets"] if d in STANDINS), **cfg.get("standins", {}))


def _download(args: argparse.Namespace) -> None:
    from evaluations.transfer.registry import download_once

    download_once(args.dataset, args.root, args.out)


def _transfer_check(args: argparse.Namespace) -> None:
    from evaluations.transfer.registry import image_folders
    from ssl_core.datasets.check import CorruptImagesError, check_images

    from evaluations.transfer.datasets import load_split

    try:
        # Every split is built first (split files and annotations parsed, seeded splits drawn): a
        # missing or malformed file fails here, naming it, rather than in a Table 1 job.
        for split in ("train", "val", "test"):
            try:
                load_split(args.dataset, args.root, split)
            except (OSError, RuntimeError, ValueError, KeyError, IndexError) as e:
                raise FileNotFoundError(
                    f"{args.root}: the {split} split of {args.dataset} cannot be built ({type(e).__name__}: {e}); "
                    "docs/data.md lists the layout each set needs") from e
        check_images(image_folders(args.dataset, args.root), args.out,
                     f"the transfer set {args.dataset} ({args.root})", workers=args.workers)
    except (CorruptImagesError, FileNotFoundError) as e:
        sys.exit(str(e))


def _transfer(args: argparse.Namespace) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from evaluations.transfer.evaluate import evaluate_transfer
    from evaluations.transfer.settings import grid_meaning, transfer_settings
    from ssl_core.backbones import load_backbone
    from ssl_core.io import write_json
    from ssl_core.preemption import Preemption

    # The rule's threads for torch and for the BLAS under scikit-learn's L-BFGS: unlimited, BLAS
    # threads of parallel jobs oversubscribe the cores (10x the CPU time on 2 busy cores).
    if len(args.dataset) != len(args.out):
        raise SystemExit(f"transfer: {len(args.dataset)} datasets but {len(args.out)} --out files (one each)")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.config_json)
    settings, backbone = transfer_settings(cfg, args.cache_dir, args.device), load_backbone(args.backbone)
    # SLURM's --signal / SIGTERM stops the job at once (exit 3): what it resumes from is the feature
    # cache, each split's features written atomically when extracted; a retried job reads them back.
    with threadpool_limits(limits=args.threads), Preemption(raise_now=True):
        for dataset, out in zip(args.dataset, args.out):  # each cell written as soon as it is done
            result = evaluate_transfer(backbone, args.backbone, dataset, **settings)
            write_json(out, {"run": args.run, **result, "grid_meaning": grid_meaning(cfg)})


def _table1(args: argparse.Namespace) -> None:
    from evaluations.formatting import write_table
    from evaluations.results import read_metrics
    from evaluations.table1 import table1_latex, table1_table

    table = table1_table(read_metrics(args.metrics, MAIN_GROUP), read_metrics(args.paper), args.profile)
    write_table(table, table1_latex(table, args.profile), args.table)


def _fig4(args: argparse.Namespace) -> None:
    from evaluations.results import read_metrics
    from evaluations.table1 import fig4_radar, table1_table

    table = table1_table(read_metrics(args.metrics, MAIN_GROUP), read_metrics(args.paper), args.profile)
    fig4_radar(table, args.method, args.profile, args.figure)


def _claims(args: argparse.Namespace) -> None:
    from pathlib import Path

    import pandas as pd

    from evaluations.claims import TUNED_NONE, claims_latex, claims_table, read_tuned
    from evaluations.formatting import write_table
    from evaluations.results import as_paper_datasets, read_metrics

    names = ("fig2_linear", "text_claims", "table1_transfer", "table2_dense", "sensitivity_best", "cosine_study")
    paper = {name: read_metrics(Path(args.paper_dir) / f"{name}.csv") for name in names}
    # a transfer stand-in (shapes_<dataset>) answers for the paper dataset it stands for
    ours = as_paper_datasets(read_metrics(args.metrics)) if args.metrics else None
    cosine = pd.read_csv(args.cosine) if args.cosine else None
    tuned, selection, why = read_tuned(args.tuned) if args.tuned else (None, None, TUNED_NONE)
    from evaluations.cpu import MixedCpuError, run_cpus, same_cpu_pairs

    try:  # never a pair across CPU types (evaluations.cpu)
        for table_, path in ((ours, args.metrics), (tuned, args.tuned and Path(args.tuned, "metrics.csv"))):
            if table_ is not None:
                same_cpu_pairs(table_, run_cpus(path), source=str(path))
    except MixedCpuError as e:
        sys.exit(f"claims: {e}")
    if args.tuned and args.metrics and Path(args.tuned, "metrics.csv").resolve() == Path(args.metrics).resolve():
        tuned = ours  # the tuning profile's own claims: its main runs are the confirmation (claims_table)
    table = claims_table(ours, paper, json.loads(args.sweeps), cosine, args.dense_status,
                         json.loads(args.dense_left_out), tuned, selection, why)
    write_table(table, claims_latex(table, args.profile), args.table)


def _forest(args: argparse.Namespace) -> None:
    import pandas as pd

    from evaluations.forest import forest_figure

    forest_figure(pd.read_csv(args.claims), args.profile, args.figure)


def _power(args: argparse.Namespace) -> None:
    from evaluations import stats
    from evaluations.results import of_group, read_metrics

    try:
        metrics = read_metrics(args.metrics)
        if args.group and "group" in metrics.columns:
            metrics = of_group(metrics, args.group, args.metrics)
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"power: cannot read {args.metrics}: {err}")
    from evaluations.cpu import MixedCpuError, run_cpus, same_cpu_pairs

    try:  # never a pair across CPU types (evaluations.cpu)
        metrics, note = same_cpu_pairs(metrics, run_cpus(args.metrics), drop=args.drop_mixed_cpu, source=args.metrics)
    except MixedCpuError as e:
        raise SystemExit(f"power: {e}")
    if note:
        print(f"note: {note}")
    table = stats.power_table(metrics, effect=args.effect, half_width=args.half_width)
    if table.empty:
        raise SystemExit(f"{args.metrics}: no baseline/rescued pairs of the same seed (group {args.group or 'any'})")
    print(stats.format_power_table(table, args.effect, args.half_width))
    if args.predictions:
        print(stats.val_noise_report(metrics, table, args.predictions))


def _compare_reference(args: argparse.Namespace) -> int:
    from evaluations import compare

    try:
        warning = compare.check_profiles(args.ours, args.reference, args.any_profile)
        ours, reference = compare.read_table(args.ours, "--ours"), compare.read_table(args.reference, "--reference")
    except compare.CompareInputError as e:
        sys.exit(f"error: {e}")
    if warning:
        print(warning)
    whole = reference  # a rerun on another CPU type is read against the reference's whole spread
    if args.partial:  # a rerun of some runs: the reference's other runs are not compared
        skipped = sorted(set(reference.run) - set(ours.run))
        reference = reference[reference.run.isin(ours.run)]
        print(f"partial rerun: {ours.run.nunique()} runs compared, {len(skipped)} runs of the reference not rerun")
    mode = args.mode
    mine, theirs = compare.cpu_mismatch(args.ours, args.reference, sorted(set(ours.run) & set(reference.run)))
    if mode == "exact" and theirs and set(theirs) != set(mine):  # no per-seed number repeats on another CPU type
        mode = "distribution"
        print(f"the reference's runs were trained on {', '.join(theirs)}, ours on {', '.join(mine)}: read by "
              "distribution (each mean and paired gain inside the reference's 95 % prediction interval for as many "
              "seeds), not seed by seed")
    table = (compare.compare_exact(ours, reference, args.atol) if mode == "exact" else
             compare.compare_distribution(ours, whole) if mode == "distribution" else
             compare.compare_intervals(ours, reference))
    print(compare.report_differences(table))
    return 0 if table.ok.all() else 1


def _tuning(args: argparse.Namespace) -> None:
    from evaluations.cpu import MixedCpuError
    from evaluations.tuning import TuningError, run_tuning

    try:
        _, _, lines = run_tuning(args.configfile, args.results, drop_mixed_cpu=args.drop_mixed_cpu)
    except (TuningError, MixedCpuError) as e:
        sys.exit(f"error: {e}")
    print("\n".join(lines))


def _collapse(args: argparse.Namespace) -> None:
    from evaluations.collapse import collapse_report

    print(collapse_report(args.metrics, args.group))


def _interim(args: argparse.Namespace) -> None:
    from evaluations.interim import interim_commands

    commands, done = interim_commands(args.configfile, args.results, args.paper_dir, args.tuned)
    print(f"interim tables of {len(done)} finished runs under {args.results}")
    for argv in commands:
        main(argv)


def _snapshot(args: argparse.Namespace) -> None:
    from evaluations.snapshot import snapshot

    snapshot(args.results, args.out, args.wall_seconds, args.command, args.commit, args.part)


# Help of the options the subcommands share, by name; (subcommand, option) where one means more.
OPTION_HELP = {
    "--backbone": "a run's backbone.pt (results/<profile>/pretrain/<run>/backbone.pt)",
    "--out": "the output file (written atomically)",
    "--runs": "every run's run.json (results/<profile>/pretrain/<run>/run.json)",
    "--evals": "the per-run evaluation JSONs (results/<profile>/eval/...)",
    "--metrics": "results/<profile>/metrics.csv",
    "--paper": "the paper's numbers (results/paper/<artifact>.csv)",
    "--profile": "the config's profile (tiny, small, cifar, paper), named in captions",
    "--table": "output stem: writes STEM.tex and STEM.csv",
    "--figure": "output stem: writes STEM.pdf and STEM.png",
    "--param": "the swept parameter: s (Fig. 5) or k (Fig. 6)",
    "--n-train": "images of its train split",
    "--n-test": "images of its test split",
    "--task": "the dense task of Table 2: voc (detection) or coco (detection and segmentation)",
    "--status": "what a Table 2 row without a result of ours says (e.g. not run: Detectron2 not installed)",
    "--dataset": "a dataset name of eval.transfer.datasets (e.g. cifar10, shapes_textures)",
    "--root": "the folder that holds the dataset (eval.transfer.data_root)",
    "--run": "the run id (results/<profile>/pretrain/<run>)",
    "--device": "auto (cuda when available), cpu or cuda[:N]",
    "--cache-dir": "folder of the frozen features, cached per backbone checkpoint",
    "--method": f"a method of ssl_core.methods: {', '.join(method_names())}",
    ("download", "--out"): "the marker written once the dataset is downloaded",
    ("transfer-check", "--out"): "the marker written when every image decodes",
    ("dense-data", "--out"): "the folder of the generated COCO subset and VOC tree",
    ("dense-convert", "--out"): "the Detectron2 weights (.pkl)",
}


def _fill_help(parser: argparse.ArgumentParser) -> None:
    """Give every option of every subcommand without a help text the shared one (OPTION_HELP)."""
    for command, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            if action.option_strings and action.help is None:
                name = action.option_strings[0]
                action.help = OPTION_HELP.get((command, name), OPTION_HELP.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("linear", help="linear probe of a frozen backbone")
    p.add_argument("--backbone", required=True)
    p.add_argument("--spec", required=True, help="the pretraining run spec (JSON)")
    p.add_argument("--config-json", required=True, help="eval.linear of the config (JSON)")
    p.add_argument("--out", required=True)
    p.add_argument("--predictions", help="also write each val image's label and prediction here (.csv.gz)")
    p.add_argument("--ckpt", help="folder for the probe's resumable state (saved every epoch and on SIGUSR1/SIGTERM)")
    p.set_defaults(fn=_linear)
    p = sub.add_parser("aggregate", help="per-run JSONs -> metrics.csv")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--evals", nargs="*", default=[])
    p.add_argument("--groups", required=True, help='JSON {run: [groups]}: "main" and/or sweep names')
    p.add_argument("--out", required=True)
    p.set_defaults(fn=_aggregate)
    p = sub.add_parser("fig2", help="Fig. 2 table (tex, csv) and figure (pdf, png)")
    for name in ("--metrics", "--paper", "--profile", "--table", "--figure"):
        p.add_argument(name, required=True)
    p.set_defaults(fn=_fig2)
    p = sub.add_parser("fig3", help="Fig. 3 augmentation examples (png)")
    p.add_argument("--spec", required=True, help="the run spec (JSON) of report.fig3_method: data and view recipe")
    p.add_argument("--figure", required=True, help="output stem")
    p.set_defaults(fn=_fig3)
    p = sub.add_parser("sensitivity", help="Fig. 5 (param s) / Fig. 6 (param k): figure (pdf, png) + csv")
    p.add_argument("--metrics", required=True)
    p.add_argument("--sweep", required=True, help='JSON {"method", "fixed", "rescued": [runs], "baselines": [runs]}')
    p.add_argument("--param", choices=["s", "k"], required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--figure", required=True, help="output stem")
    p.set_defaults(fn=_sensitivity)
    p = sub.add_parser("cosine", help="Sec. 3 study: mean cosine of common vs strong views (csv)")
    p.add_argument("--backbone", required=True)
    p.add_argument("--spec", required=True, help="the encoder's run spec (JSON)")
    p.add_argument("--paper", required=True, help="results/paper/cosine_study.csv")
    p.add_argument("--n-images", type=int, default=0, help="the first N val images only (0: every one)")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=_cosine)
    p = sub.add_parser("dense-data", help="the shapes dataset as a COCO subset and a Pascal VOC tree")
    p.add_argument("--shapes", required=True, help="a shapes dataset (ssl_core.datasets.shapes)")
    p.add_argument("--out", required=True)
    p.add_argument("--n-train", type=int, required=True)
    p.add_argument("--n-test", type=int, required=True)
    p.set_defaults(fn=_dense_data)
    p = sub.add_parser("miniature-data", help="miniature ImageNet, transfer sets, VOC and COCO in their real layouts")
    p.add_argument("--out", required=True, help="the folder of the miniature trees (evaluations.miniature)")
    p.set_defaults(fn=_miniature_data)
    p = sub.add_parser("dense-check", help="parse every VOC / COCO annotation and find every image once")
    p.add_argument("--data-json", required=True, help="data.dense of the config (JSON)")
    p.add_argument("--out", required=True, help="the marker: written when the data is complete")
    p.set_defaults(fn=_dense_check)
    p = sub.add_parser("dense-convert", help="backbone.pt -> Detectron2 weights (pickle)")
    p.add_argument("--backbone", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=_dense_convert)
    p = sub.add_parser("dense", help="Detectron2 fine-tuning + evaluation of one (run, task)")
    p.add_argument("--task", choices=["voc", "coco"], required=True)
    p.add_argument("--backbone", required=True, help="backbone.pt (its architecture)")
    p.add_argument("--weights", required=True, help="the converted weights (dense-convert)")
    p.add_argument("--spec", required=True, help="the pretraining run spec (JSON)")
    p.add_argument("--config-json", required=True, help="eval.dense.<family>.<task> of the config (JSON)")
    p.add_argument("--data-json", required=True, help="data.dense of the config (JSON)")
    p.add_argument("--workdir", required=True, help="Detectron2's OUTPUT_DIR (checkpoints; resumed)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads of this process")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=_dense)
    p = sub.add_parser("table2", help="Table 2 (tex, csv): published dense results beside ours")
    for name in ("--metrics", "--paper", "--profile", "--status", "--table"):
        p.add_argument(name, required=True)
    p.set_defaults(fn=_table2)
    p = sub.add_parser("transfer-data", help="generate the transfer stand-ins named in eval.transfer.datasets")
    p.add_argument("--config-json", required=True, help="eval.transfer of the config (JSON)")
    p.add_argument("--out", required=True, help="the data root")
    p.set_defaults(fn=_transfer_data)
    p = sub.add_parser("download", help="download one dataset through torchvision, then write --out (a marker)")
    for name in ("--dataset", "--root", "--out"):
        p.add_argument(name, required=True)
    p.set_defaults(fn=_download)
    p = sub.add_parser("transfer-check", help="decode every image of one transfer set once (cached in --out)")
    for name in ("--dataset", "--root", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--workers", type=int, default=0, help="decoding processes (the loader workers)")
    p.set_defaults(fn=_transfer_check)
    p = sub.add_parser("transfer", help="linear transfer of a frozen backbone on datasets (Table 1 cells)")
    for name in ("--backbone", "--run", "--device", "--cache-dir"):
        p.add_argument(name, required=True)
    p.add_argument("--dataset", nargs="+", required=True, help="one or more datasets, each with its --out")
    p.add_argument("--out", nargs="+", required=True, help="a JSON per dataset, in the order of --dataset")
    p.add_argument("--config-json", required=True, help="eval.transfer of the config (JSON)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads of this process")
    p.set_defaults(fn=_transfer)
    p = sub.add_parser("table1", help="Table 1 (tex, csv): transfer, published beside ours")
    for name in ("--metrics", "--paper", "--profile", "--table"):
        p.add_argument(name, required=True)
    p.set_defaults(fn=_table1)
    p = sub.add_parser("fig4", help="Fig. 4 radar of one method (pdf, png)")
    for name in ("--metrics", "--paper", "--profile", "--method", "--figure"):
        p.add_argument(name, required=True)
    p.set_defaults(fn=_fig4)
    p = sub.add_parser("curves", help="training curves of a method's runs (pdf, png, csv): metrics.jsonl over steps")
    p.add_argument("--runs", nargs="+", required=True, help="the runs' folders (results/<profile>/pretrain/<run>)")
    p.add_argument("--method", required=True, help="the method the runs belong to (the figure's title)")
    p.add_argument("--profile", required=True)
    p.add_argument("--figure", required=True)
    p.add_argument("--window", type=int, default=None, help="moving average over this many steps (default: ~1/50 "
                   "of the run; 1: raw)")
    p.set_defaults(fn=_curves)
    p = sub.add_parser("claims", help="the claims table (tex, csv): each claim of the paper, ours and a verdict")
    p.add_argument("--metrics", help="metrics.csv (none: the profile was not run)")
    p.add_argument("--cosine", help="tables/cosine_study.csv of the profile")
    p.add_argument("--paper-dir", required=True, help="results/paper")
    p.add_argument("--sweeps", default="[]", help="the config's sweeps (JSON list)")
    p.add_argument("--profile", required=True)
    p.add_argument("--table", required=True, help="output stem")
    p.add_argument("--dense-status", default="", help="why the profile has no Table 2 results (the DAG's DENSE_STATUS)")
    p.add_argument("--dense-left-out", default="{}",
                   help="backbone family -> why the profile leaves it out of Table 2 (JSON: eval.dense.left_out)")
    p.add_argument("--tuned", help="a tuning profile's results or reference (results/reference/tuning): the linear "
                   "claims read a second time at its selected s and k (none: those rows say not run)")
    p.set_defaults(fn=_claims)
    p = sub.add_parser("forest", help="forest plot of the claims table (pdf, png): paired gains, intervals, published")
    p.add_argument("--claims", required=True, help="tables/claims.csv of the profile")
    p.add_argument("--profile", required=True)
    p.add_argument("--figure", required=True, help="output stem")
    p.set_defaults(fn=_forest)
    p = sub.add_parser("power", help="power of the paired comparisons of any metrics table (printed)")
    p.add_argument("--metrics", required=True, help="a metrics.csv")
    p.add_argument("--group", default="main", help="the runs' group (main or a sweep's name; '' for all rows)")
    p.add_argument("--effect", type=float, default=1.0, help="the true gain to detect (points)")
    p.add_argument("--half-width", type=float, default=1.0, help="the 95 %% interval's half-width to reach")
    p.add_argument("--predictions", help="eval/linear of the profile: where the probe saved per-image predictions "
                   "(optional; adds the share of the paired variance due to the val set)")
    p.add_argument("--drop-mixed-cpu", action="store_true",
                   help="leave out pairs trained on two CPU types (default: an error)")
    p.set_defaults(fn=_power)
    p = sub.add_parser("compare-reference", help="a rerun against a reference run: which numbers differ, by how much")
    p.add_argument("--ours", required=True, help="results/<profile>/metrics.csv")
    p.add_argument("--reference", required=True, help="results/reference/<profile>/metrics.csv")
    p.add_argument("--mode", choices=["exact", "interval", "distribution"], default="exact",
                   help="exact: run by run (same CPU type; another CPU type switches to distribution); interval: "
                   "within the reference's 95 %% intervals; distribution: each mean and paired gain within the "
                   "reference's prediction interval")
    p.add_argument("--atol", type=float, default=0.0, help="exact mode: allowed absolute difference")
    p.add_argument("--partial", action="store_true",
                   help="ours reran some runs only: compare those, leave the reference's other runs out")
    p.add_argument("--any-profile", action="store_true",
                   help="compare even if the two tables are of different profiles (a warning instead of an error)")
    p.set_defaults(fn=_compare_reference)
    p = sub.add_parser("interim", help="metrics.csv, Fig. 2, claims, forest plot and training curves of the runs "
                       "finished so far (a profile built in parts)")
    p.add_argument("--configfile", required=True, help="the profile's config (e.g. config/verdict.yaml)")
    p.add_argument("--results", required=True, help="results/<profile>")
    p.add_argument("--paper-dir", default="results/paper", help="the paper's numbers (results/paper)")
    p.add_argument("--tuned", help="a tuning profile's results or reference (claims --tuned)")
    p.set_defaults(fn=_interim)
    p = sub.add_parser("snapshot", help="copy a finished profile's results into results/reference/<profile>")
    p.add_argument("--results", required=True, help="results/<profile>")
    p.add_argument("--out", required=True, help="results/reference/<profile>")
    p.add_argument("--wall-seconds", type=float, required=True, help="the run's measured wall time")
    p.add_argument("--command", default="", help="the command that made the results")
    p.add_argument("--commit", default="", help="the commit the results came from (default: HEAD)")
    p.add_argument("--part", default="", help="a reference built in parts: this part's name; the MANIFEST keeps every "
                   "part's commit, wall time and runs, and its wall_seconds is their sum")
    p.set_defaults(fn=_snapshot)
    p = sub.add_parser("tuning", help="Sec. 5's tuning of s: paired gain per grid point, the selection by tuning.rule "
                       "(tables/tuning.{csv,tex}, tables/tuning_selection.json)")
    p.add_argument("--configfile", required=True, help="a profile with a `tuning` section (config/tuning.yaml)")
    p.add_argument("--results", required=True, help="results/<profile> (finished runs) or results/reference/<profile>")
    p.add_argument("--drop-mixed-cpu", action="store_true",
                   help="leave out pairs trained on two CPU types (default: an error)")
    p.set_defaults(fn=_tuning)
    p = sub.add_parser("collapse", help="the collapse flag of every rescued run against its baselines' embedding "
                       "spread and probe accuracy (printed)")
    p.add_argument("--metrics", required=True, help="a metrics.csv")
    p.add_argument("--group", default="", help="one group of runs ('': every group)")
    p.set_defaults(fn=_collapse)
    _fill_help(parser)
    args = parser.parse_args(argv)
    spec = getattr(args, "spec", None)
    if spec is not None:  # a run spec is checked with the schema the workflow checks configs with
        from ssl_core.config import ConfigError, validate_spec

        try:
            validate_spec(json.loads(spec))
        except (ConfigError, json.JSONDecodeError) as e:
            sys.exit(f"error: --spec: {e}")
    from ssl_core.preemption import RESUME_EXIT_CODE, Preempted

    try:
        return args.fn(args) or 0
    except Preempted as e:  # stopped on the scheduler's signal, state saved: a retried job resumes
        print(f"stopped resumably ({e}); exit {RESUME_EXIT_CODE}", file=sys.stderr, flush=True)
        return RESUME_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
