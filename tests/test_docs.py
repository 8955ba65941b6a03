"""README.md and docs/ stay true as the code moves: every file, link, make target, `python -m`
entry point (and its subcommand), config file and Snakemake rule they name exists."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Top-level entries of the repository a page may name as a path.
REPO_DIRS = ("ssl_core/", "evaluations/", "benchmarks/", "config/", "workflow/", "tests/", "docs/", ".ci/",
             "profiles/", "scripts/")
REPO_FILES = ("Snakefile", "Makefile", "pyproject.toml", "environment.yml")
USER_MADE = {"config/cluster.yaml"}  # files the pages tell the user to create


def _code(text: str) -> list[str]:
    """Inline code spans and fenced code blocks of a markdown page."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


def _rules() -> set[str]:
    """The rules of the DAG, as Snakemake lists them (the tiny, the cifar and the paper_smoke profile:
    the cifar profile adds the download rules, paper_smoke the miniature data and the dense check)."""
    rules = set()
    for args in ([], ["--configfile", "config/cifar.yaml"], ["--configfile", "config/paper_smoke.yaml"]):
        out = subprocess.run([sys.executable, "-m", "snakemake", "--list-rules", *args], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        rules |= {line.split()[0] for line in out.splitlines() if line.strip()}
    return rules


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z0-9_-]+):", (ROOT / "Makefile").read_text(), flags=re.M))


def test_pages_exist():
    assert (ROOT / "docs").is_dir() and len(PAGES) > 1
    for name in ("profiles", "targets", "protocols", "scaling", "benchmarks", "detectron2"):
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: link to {target} does not resolve"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_paths_exist(page):
    missing = []
    for code in _code(page.read_text()):
        for token in re.split(r"[\s'\"=(),;]+", code):
            token = token.rstrip(".:")
            if not (token.startswith(REPO_DIRS) or token in REPO_FILES):
                continue
            if any(c in token for c in "<>*{}[]$") or "..." in token:
                continue  # a pattern, not a path
            path, _, test = token.partition("::")  # tests/x.py::test_name names a test
            if token in USER_MADE:
                continue
            if not (ROOT / path).exists() or (test and f"def {test}(" not in (ROOT / path).read_text()):
                missing.append(token)
    assert not missing, f"{page.name} names paths that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_entry_points_exist(page):
    problems = []
    for code in _code(page.read_text()):
        for module, sub in re.findall(r"python -m ([\w.]+)(?: ([a-z][\w-]*))?", code):
            if module in ("pip", "venv", "pytest", "torch.distributed.run"):
                continue
            if importlib.util.find_spec(module) is None:
                problems.append(f"python -m {module}: no such module")
                continue
            main = ROOT / Path(*module.split(".")) / "__main__.py"
            if sub and main.is_file() and f'"{sub}"' not in main.read_text():
                problems.append(f"python -m {module} {sub}: no such subcommand in {main.relative_to(ROOT)}")
    assert not problems, f"{page.name}: {problems}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_make_targets_exist(page):
    targets = _make_targets()
    named = {t for code in _code(page.read_text()) for t in re.findall(r"\bmake ([a-z][\w-]*)", code)}
    assert named <= targets, f"{page.name} names make targets that do not exist: {sorted(named - targets)}"


def test_targets_table_names_rules():
    """Each row of the targets page's "What each target produces" names a rule of the DAG or a make
    target."""
    page = ROOT / "docs" / "targets.md"
    rules, targets = _rules(), _make_targets()
    section = page.read_text().split("## What each target produces", 1)[-1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w-]+)`", section, flags=re.M)
    assert rows, "docs/targets.md has no table of targets"
    unknown = [r for r in rows if r not in rules and r not in targets]
    assert not unknown, f"docs/targets.md names rules that are not in the DAG: {unknown}"
