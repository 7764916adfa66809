"""Duplicated code stays within a recorded budget: pylint's duplicate-code check (blocks of at least
MIN_LINES similar lines, imports, docstrings and comments ignored) over the package, the tests and the
benchmarks. The package itself has none; the budget is what the tests and benchmarks had when it was set."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIN_LINES = 4
BUDGET = 2  # tests/e2e/test_publish.py + test_staleness.py (SPECS), benchmarks/cache_vs_turbo.py + incremental_vs_turbo.py
BLOCK = re.compile(r"R0801: Similar lines in \d+ files\n((?:==.*\n)+)")


def duplicated_blocks() -> list[list[str]]:
    """Each duplicated block pylint finds, as the `module:[from:to]` places it is in."""
    files = sorted(str(p.relative_to(REPO)) for folder in ("tests", "benchmarks") for p in (REPO / folder).rglob("*.py"))
    proc = subprocess.run([sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code", "--score=n",
                           f"--min-similarity-lines={MIN_LINES}", "package_builder_dagster", *files],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode in (0, 8), proc.stdout + proc.stderr  # 8: refactor messages (R0801) were issued
    return [[line[2:] for line in match.group(1).splitlines()] for match in BLOCK.finditer(proc.stdout)]


def test_duplicated_blocks_stay_within_the_budget():
    blocks = duplicated_blocks()
    in_package = [places for places in blocks if any(place.startswith("package_builder_dagster") for place in places)]
    assert not in_package, f"duplicated code in the package: {in_package}"
    assert len(blocks) <= BUDGET, f"{len(blocks)} duplicated blocks (budget {BUDGET}): {blocks}"
