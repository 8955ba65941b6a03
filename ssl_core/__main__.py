"""Command line of the library: ``python -m ssl_core pretrain --spec '<json>' --out DIR --ckpt DIR``,
``python -m ssl_core check-images --data '<json>' --out MARKER`` (decode every pretraining image once) and
``python -m ssl_core budget --configfile config/paper.yaml`` (GPU-hours of a profile's runs) and
``python -m ssl_core resources --configfile config/paper.yaml config/cluster.example.yaml`` (every
job kind's GPU-hours, wall time and GPU memory from FLOP counts).

The Snakemake ``pretrain`` rule calls exactly this; so does a SLURM job. A run that finds state in
``--ckpt`` resumes from it.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssl_core")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="pretrain one run (resumes from --ckpt if state is there)")
    p.add_argument("--spec", required=True, help="the run spec as JSON (see ssl_core.config.run_matrix)")
    p.add_argument("--out", required=True, help="folder for backbone.pt, run.json, metrics.jsonl")
    p.add_argument("--ckpt", required=True, help="folder for resumable training state")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop (resumably) after this many steps, e.g. to fit a job's time limit")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads of this process")
    d = sub.add_parser("check-images", help="decode every image of the pretraining data once (cached in --out)")
    d.add_argument("--data", required=True, help="the config's data.pretrain as JSON")
    d.add_argument("--out", required=True, help="the marker: written when every image decodes")
    d.add_argument("--check", default="{}", help="the config's data.check as JSON (class count, sample, workers)")
    b = sub.add_parser("budget", help="device-hours of every run of a profile, from step times measured here")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--configfile", help="a config YAML, e.g. config/paper.yaml")
    src.add_argument("--config-json", help="the validated config as JSON (the Snakemake rule passes it)")
    b.add_argument("--batch", type=int, default=8, help="batch of the timed steps")
    b.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up)")
    b.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda[:N]")
    b.add_argument("--out", help="write the CSV here (atomically) as well as to stdout")
    b.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    r = sub.add_parser("resources", help="GPU-hours, wall time and GPU memory per job kind (FLOP counts; ssl_core.resources)")
    r.add_argument("--configfile", nargs="+", required=True, help="config YAMLs, e.g. config/paper.yaml config/cluster.example.yaml")
    r.add_argument("--retries", type=int, default=3, help="the SLURM profile's retries")
    r.add_argument("--out", help="write the CSV here (atomically) as well as to stdout")
    args = parser.parse_args(argv)
    from ssl_core.config import ConfigError

    try:
        return _run(args)
    except ConfigError as e:  # a bad spec or config: what is wrong and where, no traceback
        sys.exit(f"error: {e}")


def _run(args: argparse.Namespace) -> int:
    if args.command == "budget":
        return _budget(args)
    if args.command == "resources":
        return _resources(args)
    if args.command == "check-images":
        from ssl_core.datasets import pretrain_folders
        from ssl_core.datasets.check import CorruptImagesError, check_classes, check_images

        from ssl_core.config import validate_pretrain_data

        data = validate_pretrain_data(_json(args.data, "--data"))
        check = _json(args.check, "--check")
        what = f"the pretraining set {data['name']} ({data['root']})"
        try:
            folders = pretrain_folders(data)
            problems = check_classes(folders, check.get("pretrain_classes"), what)
            if problems:
                sys.exit("\n".join(problems))
            check_images(folders, args.out, what, workers=check.get("workers", data.get("num_workers", 0)),
                         sample=check.get("sample", 0))
        except (CorruptImagesError, FileNotFoundError) as e:
            sys.exit(str(e))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ssl_core.config import validate_spec
    from ssl_core.datasets.check import CorruptImagesError

    spec = validate_spec(_json(args.spec, "--spec"))  # the schema the workflow validates configs with
    from ssl_core.training import pretrain  # torch: imported only for training, not for the data check

    from ssl_core.preemption import RESUME_EXIT_CODE, Preemption

    try:
        with Preemption() as preemption:  # SLURM's --signal (SIGUSR1) or SIGTERM: checkpoint and stop
            done = pretrain(spec, args.out, args.ckpt, max_steps=args.max_steps, preemption=preemption)
    except (CorruptImagesError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    # A time-boxed or signalled, unfinished run exits non-zero so a workflow manager retries (and resumes) it.
    return 0 if done else RESUME_EXIT_CODE


def _json(text: str, option: str):
    from ssl_core.config import ConfigError

    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{option} is not valid JSON ({e})") from None


def _budget(args: argparse.Namespace) -> int:
    import torch

    from ssl_core.budget import compute_budget, to_csv
    from ssl_core.config import load_config, validate_config
    from ssl_core.io import write_text
    from ssl_core.distributed import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.configfile) if args.configfile else validate_config(_json(args.config_json, "--config-json"))
    text = to_csv(compute_budget(config, resolve_device(args.device), args.batch, args.steps))
    print(text, end="")
    if args.out:
        write_text(args.out, text)
    return 0


def _resources(args: argparse.Namespace) -> int:
    import yaml

    from ssl_core import resources as R
    from ssl_core.config import load_config
    from ssl_core.io import write_text

    config = load_config(args.configfile[0])
    for extra in args.configfile[1:]:  # e.g. the cluster section, as Snakemake merges --configfile
        config.update(yaml.safe_load(open(extra)))
    rows = R.held(R.estimate(config), config)
    text = R.to_csv(rows)
    print(text, end="")
    t = R.total(rows)
    print(f"# total: {t['gpu_hours']:.0f} GPU-hours of FLOPs, {t['held_gpu_hours']:.0f} GPU-hours held (wall x GPUs) "
          f"over {t['jobs']} jobs ({R.GPU['name']}; utilisation {R.UTILISATION})")
    for line in R.covered(rows, config, args.retries) + R.over_memory(rows):
        print(f"# WARNING: {line}")
    if args.out:
        write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
