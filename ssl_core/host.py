"""Host-process settings for training on the CPU."""
from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_TOP_PAD = -1, -2  # glibc mallopt parameters (malloc.h)


def retain_freed_memory() -> bool:
    """Keep freed memory in the process instead of handing it back to the OS after every step.

    glibc trims the top of the heap once more than 128 KiB (raised dynamically) is free, so a CPU
    step, which frees its activations and allocates them again, page-faults them in anew every
    step. Keeping up to 2 GiB free and growing the heap 1 GiB at a time removes that: tiny ResNet
    SimCLR at N = 256 steps 0.82 -> 0.61 s (``benchmarks/rescue_overhead.py``, one thread). The
    resident size then stays at its peak. Returns False (and changes nothing) off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)) and bool(libc.mallopt(M_TOP_PAD, 2**30))


def cpu_model() -> str:
    """The CPU type of this machine (/proc/cpuinfo's first ``model name``, else platform.processor()):
    what run.json and a reference's MANIFEST record, since a baseline and a rescued run are a pair
    only on one CPU type (evaluations.cpu)."""
    import platform
    from pathlib import Path

    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()
