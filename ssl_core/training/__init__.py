"""Pretraining: one run spec in, ``backbone.pt`` + ``run.json`` + ``metrics.jsonl`` out.

- ``loop``: ``pretrain``, the loop (resume, schedule, per-step log, checkpoints, outputs);
- ``step``: ``TrainStep``, one optimisation step (precision, rescue term, gradient all-reduce),
  and ``build_train_step``, what builds it from a spec (also what ``benchmarks/`` and the budget time);
- ``data``: a self-supervised run's multi-view data and one pass's batches of this process;
- ``variants``: what a spec's ``variant`` trains on what data (``ssl_core.supervised`` registers
  the ceiling);
- ``checkpoint``: ``last.pt`` / ``previous.pt``, resume and the setting aside of bad checkpoints;
- ``outputs``: the collapse verdict and the run's files.
"""
from ssl_core.training.loop import pretrain
from ssl_core.training.step import TrainStep, build_method, build_train_step

__all__ = ["pretrain", "TrainStep", "build_method", "build_train_step"]
