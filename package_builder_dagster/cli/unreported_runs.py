"""The runs a killed `build` left without reports: `build` and `report` write them first, and say so."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from package_builder_dagster.discovery.config import BuildConfig


def report_unreported(config: BuildConfig, out: TextIO | Any = None) -> None:
    """Write the reports of runs a killed `build` left without (a directory listing when there are
    none); say so on `out` (stdout by default)."""
    from package_builder_dagster.orchestration.unreported import unreported_runs

    if not unreported_runs(config.dagster_home):
        return
    from package_builder_dagster.orchestration.definitions import discover_for
    from package_builder_dagster.orchestration.instance import get_instance
    from package_builder_dagster.orchestration.run_reports import report_unreported_runs
    from package_builder_dagster.orchestration.translator import PackageTranslator

    written = report_unreported_runs(get_instance(config), config, discover_for(config), PackageTranslator())
    for run_id, marked in written.items():
        why = "was left in progress by a build process that is gone: marked failed," if marked else \
            "ended without its reports (its build process was killed):"
        print(f"run {run_id} {why} its reports written now", file=out or sys.stdout)
