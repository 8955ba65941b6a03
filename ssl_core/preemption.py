"""Stopping a job resumably when the scheduler asks: the signal SLURM sends before a time limit.

A SLURM job started with ``--signal=USR1@120`` gets SIGUSR1 120 s before its ``--time`` runs out
(SIGTERM at the limit itself, or on preemption, then SIGKILL after ``KillWait``). Every long job kind
of the suite (pretraining, the linear probe, the transfer cells, the dense fine-tuning) installs
:class:`Preemption` for both signals: the handler only records the signal; the job's loop polls
:attr:`Preemption.requested` at its next safe point (a finished step or iteration), writes its
checkpoint atomically and leaves with :data:`RESUME_EXIT_CODE`. A job that exits with it is
unfinished, not failed: Snakemake's ``retries`` resubmit it (workflow/profiles/slurm) and the new
job resumes from the checkpoint. The code is the one a time-boxed pretraining run (``--max-steps``)
already exits with.

Under torchrun every process must stop at the same step, so the loops ask :func:`agreed` (a max
over the processes of the flag: a signal seen by any process stops all of them).

The signal is not the only way in: under SLURM a process between the job and Python (the job
step's ``snakemake``, a shell, torchrun's agent) may die of a SIGUSR1 it does not handle and take
the step with it. So :class:`Preemption` also knows the job's end: ``squeue -h -j $SLURM_JOB_ID -o
%e`` read once when installed (or ``SSL_DEADLINE``, epoch seconds), and asks to stop
``SSL_STOP_BEFORE_END_S`` seconds (default 300: before SLURM's signal at 120 s, so a parent killed
by that signal finds the checkpoint written) before it, signal or not.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Exit status of a job that stopped before its end with its state saved: retry it and it resumes.
RESUME_EXIT_CODE = 3
#: SIGUSR1: SLURM's ``--signal`` before the time limit; SIGTERM: the limit itself, ``scancel``, preemption.
SIGNALS = (signal.SIGUSR1, signal.SIGTERM)


def job_deadline() -> float | None:
    """Epoch seconds at which this job should stop to leave time for its checkpoint: ``SSL_DEADLINE``,
    else the SLURM job's end time (``squeue``) less ``SSL_STOP_BEFORE_END_S`` (default 300, at most a
    quarter of the job's time limit); None outside SLURM, when the end is unknown (``squeue`` missing,
    no time limit) or when ``SSL_STOP_BEFORE_END_S`` is 0: then nothing stops the job ahead of its
    limit, and SLURM's own SIGTERM at the limit is what checkpoints it (a stop *at* the end would
    race that SIGTERM, since slurmctld enforces limits up to 30 s late, and exit before it: FAILED,
    not TIMEOUT)."""
    margin = float(os.environ.get("SSL_STOP_BEFORE_END_S", 300))
    if margin <= 0:
        return None
    if os.environ.get("SSL_DEADLINE"):
        return float(os.environ["SSL_DEADLINE"]) - margin
    job = os.environ.get("SLURM_JOB_ID")
    if not job or not shutil.which("squeue"):
        return None
    try:
        start, end = (datetime.fromisoformat(t).timestamp() for t in subprocess.run(  # SLURM prints local time
            ["squeue", "-h", "-j", job, "-o", "%S|%e"], capture_output=True, text=True, timeout=30
        ).stdout.strip().split("|"))
        # never more than a quarter of the job's limit: a margin longer than the job would stop every
        # attempt before its first step, and the retries would make no progress
        return end - min(margin, (end - start) / 4)
    except (OSError, subprocess.SubprocessError, ValueError):  # "N/A", "Unknown", a slow controller
        return None


class Preempted(Exception):
    """Raised where a job stops at once on the signal (nothing to save beyond what is already
    written atomically, e.g. the transfer jobs' feature cache)."""


class Preemption:
    """Records the first of :data:`SIGNALS` this process receives. ``raise_now=True`` raises
    :class:`Preempted` from the handler instead (for jobs whose state is only their finished
    files: whatever they were computing is lost, nothing half-written is left)."""

    def __init__(self, raise_now: bool = False) -> None:
        self.signum: int | None = None
        self.raise_now = raise_now
        self.deadline: float | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> "Preemption":
        self.deadline = job_deadline()
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def __enter__(self) -> "Preemption":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        if first:
            print(f"received {signal.Signals(signum).name}: stopping at the next checkpoint "
                  f"(exit {RESUME_EXIT_CODE}: retry the job and it resumes)", file=sys.stderr, flush=True)
        if self.raise_now:
            raise Preempted(signal.Signals(signum).name)

    @property
    def reason(self) -> str | None:
        """Why the job stops: the signal's name, "end near" (its time limit), None (it does not)."""
        return None if self.signum is None else signal.Signals(self.signum).name if self.signum else "end near"

    @property
    def requested(self) -> bool:
        if self.signum is None and self.deadline is not None and time.time() >= self.deadline:
            self.deadline = None
            self.signum = 0  # not a signal: the job's end is near
            print(f"the job's time limit is {os.environ.get('SSL_STOP_BEFORE_END_S', 300)} s away: stopping at the "
                  f"next checkpoint (exit {RESUME_EXIT_CODE}: retry the job and it resumes)", file=sys.stderr, flush=True)
        return self.signum is not None


def agreed(flag: bool, device: "torch.device | str" = "cpu") -> bool:
    """``flag`` of any process (a max over the default process group; ``flag`` itself without one).
    ``device``: the process group's device (cuda under NCCL)."""
    import torch
    import torch.distributed as tdist

    if not (tdist.is_available() and tdist.is_initialized()) or tdist.get_world_size() == 1:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return bool(t.item())
