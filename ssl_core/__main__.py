"""Command line of the library: ``python -m ssl_core pretrain --spec '<json>' --out DIR --ckpt DIR``.

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
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    done = pretrain(json.loads(args.spec), args.out, args.ckpt, max_steps=args.max_steps)
    # A time-boxed, unfinished run exits non-zero so a workflow manager retries (and resumes) it.
    return 0 if done else 3


if __name__ == "__main__":
    sys.exit(main())
