"""``make detectron2``: install Detectron2 at the pinned commit into the running environment.

Detectron2 has no PyPI release: pip builds it from its source, which needs the source (GitHub, or a
local clone), a C++ compiler (its ops), and setuptools < 81 with ``--no-build-isolation`` (its
setup.py imports torch and ``pkg_resources``). Each missing piece is named before pip starts, with
what to do instead of a compiler log::

    python -m evaluations.dense.install                      # from GitHub at the pinned commit
    python -m evaluations.dense.install --source /path/to/detectron2   # from a local clone
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from evaluations.dense import DETECTRON2_COMMIT

REPO = "https://github.com/facebookresearch/detectron2.git"
DEFAULT_SOURCE = f"git+{REPO}@{DETECTRON2_COMMIT}"
OFFLINE = (
    "On a machine with internet, fetch the source at the pinned commit:\n"
    f"    git clone {REPO} detectron2 && git -C detectron2 checkout {DETECTRON2_COMMIT}\n"
    "copy the folder here, then install from it:\n"
    "    make detectron2 DETECTRON2_SRC=/path/to/detectron2")


class InstallError(RuntimeError):
    """What is missing, and what to do."""


def find_compiler() -> str | None:
    """The C++ compiler pip's build would use (``$CXX``, else c++ / g++ / clang++)."""
    for name in filter(None, (os.environ.get("CXX"), "c++", "g++", "clang++")):
        if shutil.which(name):
            return name
    return None


def check_source(source: str) -> None:
    """A ``git+URL@commit`` source must be reachable (``git ls-remote``); a local folder must be a
    Detectron2 checkout, at the pinned commit if it is a git clone."""
    if source.startswith("git+"):
        url = source[len("git+"):].rsplit("@", 1)[0]
        try:
            probe = subprocess.run(["git", "ls-remote", url, "HEAD"], capture_output=True, text=True, timeout=60)
            reached = probe.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            reached = False
        if not reached:
            raise InstallError(f"Cannot reach {url} (no network?): Detectron2 was not installed.\n{OFFLINE}")
        return
    folder = Path(source)
    if not (folder / "setup.py").is_file() or not (folder / "detectron2").is_dir():
        raise InstallError(f"{folder} is not a Detectron2 source folder (no setup.py and detectron2/).\n{OFFLINE}")
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and head.stdout.strip() != DETECTRON2_COMMIT:
        raise InstallError(f"{folder} is at commit {head.stdout.strip()[:12]}, not the pinned "
                           f"{DETECTRON2_COMMIT[:12]}: git -C {folder} checkout {DETECTRON2_COMMIT}")


def install(source: str = DEFAULT_SOURCE) -> None:
    """Check the compiler and the source, then pip-install into this interpreter's environment."""
    if find_compiler() is None:
        raise InstallError(
            "No C++ compiler found (tried $CXX, c++, g++, clang++): Detectron2 compiles its C++ ops when "
            "installed. Install one (Debian/Ubuntu: apt install g++; macOS: xcode-select --install; conda: "
            "conda install gxx_linux-64), then rerun make detectron2.")
    check_source(source)
    pip = [sys.executable, "-m", "pip", "install"]
    for args in (["setuptools<81"], ["--no-build-isolation", source]):
        if subprocess.run(pip + args).returncode != 0:
            raise InstallError(f"pip install {' '.join(args)} failed (its output is above).\n{OFFLINE}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluations.dense.install", description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help=f"pip source: a git+https URL (default: {DEFAULT_SOURCE}) or a local clone")
    args = parser.parse_args(argv)
    try:
        install(args.source or DEFAULT_SOURCE)
    except InstallError as e:
        print(f"make detectron2: {e}", file=sys.stderr)
        return 1
    print(f"Detectron2 {DETECTRON2_COMMIT[:12]} installed: the DAG now runs the dense jobs (Table 2).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
