"""Checks of command-line values that argparse's types cannot express: each raises a one-line UsageError."""

from __future__ import annotations

import math
from pathlib import Path

from package_builder_dagster.errors import UsageError


def check_prune_limits(max_size_mb: int | None, older_than_days: float | None) -> None:
    """`cache prune` limits must be finite and not negative (-1 MB would empty the store)."""
    for flag, value in (("--max-size-mb", max_size_mb), ("--older-than-days", older_than_days)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise UsageError(f"{flag} must be a number of 0 or more, not {value}")


def check_example_target(path: Path, force: bool) -> None:
    """`example` writes into an empty (or new) folder only, unless `force` (it overwrites package.json and commits)."""
    if force or not path.exists():
        return
    if not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder")
    if any(path.iterdir()):
        raise UsageError(f"{path} is not empty: the example would overwrite its package.json and commit its files; "
                         "choose a new folder or pass --force")
