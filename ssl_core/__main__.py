"""Command line of the library: ``python -m ssl_core pretrain --spec '<json>' --out DIR --ckpt DIR``,
``python -m ssl_core download --data '<json>'`` (the cifar profile's data) and
``python -m ssl_core budget --configfile config/paper.yaml`` (GPU-hours of a profile's runs).

The Snakemake ``pretrain`` rule calls exactly this; so does a SLURM job. A run that finds state in
``--ckpt`` resumes from it.
"""
from __future__ import annotations

import argparse
import json
import sys

from ssl_core.trainer import pretrain


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
    d = sub.add_parser("download", help="download the pretraining data of a config (data.pretrain.download: true)")
    d.add_argument("--data", required=True, help="the config's data.pretrain as JSON")
    b = sub.add_parser("budget", help="device-hours of every run of a profile, from step times measured here")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--configfile", help="a config YAML, e.g. config/paper.yaml")
    src.add_argument("--config-json", help="the validated config as JSON (the Snakemake rule passes it)")
    b.add_argument("--batch", type=int, default=8, help="batch of the timed steps")
    b.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up)")
    b.add_argument("--device", default="auto")
    b.add_argument("--out", help="write the CSV here (atomically) as well as to stdout")
    b.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.command == "budget":
        return _budget(args)
    if args.command == "download":
        from ssl_core.datasets import pretrain_split

        data = json.loads(args.data)
        for split in ("train", "val"):
            pretrain_split(data, split)  # torchvision downloads and checks the archive
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    spec = json.loads(args.spec)
    if spec["variant"] == "supervised":  # the ceiling: trained with labels (ssl_core.supervised)
        from ssl_core.supervised import train_supervised

        return 0 if train_supervised(spec, args.out, args.ckpt) else 3
    done = pretrain(spec, args.out, args.ckpt, max_steps=args.max_steps)
    # A time-boxed, unfinished run exits non-zero so a workflow manager retries (and resumes) it.
    return 0 if done else 3


def _budget(args: argparse.Namespace) -> int:
    import torch

    from ssl_core.budget import compute_budget, to_csv
    from ssl_core.config import load_config, validate_config
    from ssl_core.io import write_text
    from ssl_core.distributed import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.configfile) if args.configfile else validate_config(json.loads(args.config_json))
    text = to_csv(compute_budget(config, resolve_device(args.device), args.batch, args.steps))
    print(text, end="")
    if args.out:
        write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
