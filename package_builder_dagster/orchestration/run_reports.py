"""A run's reports from its Dagster event log: the one function that turns a run into its JSON
reports, its timeline and the mirror `build --stale` reads. The CLI calls it after `build` (and, for
a run whose `build` was killed, in the next command), the suite summary asset on a green run, and the
run-status sensors for runs started elsewhere."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.orchestration.materialization_mirror import refresh_mirror
from package_builder_dagster.orchestration.run_events import RunLog, read_run
from package_builder_dagster.orchestration.translator import PackageTranslator
from package_builder_dagster.orchestration.unreported import Unreported, alive, clear_unreported, unreported_runs
from package_builder_dagster.reporting.reports import derive_run, write_run_reports
from package_builder_dagster.reporting.timeline import render_timeline


def report_run(
    instance: dg.DagsterInstance, run_id: str, config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator,
    log: RunLog | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write run `run_id`'s package reports, suite summary and timeline; (run folder, summary).
    `log` is the run's event log when the caller has read it already."""
    log = log or read_run(instance, run_id)
    names = {translator.get_asset_key(p).to_user_string(): p.name for p in graph}
    if log.selection is None:
        selected = list(graph.packages)
    else:
        chosen = {names[k] for k in log.selection if k in names}
        selected = [n for n in graph.packages if n in chosen]
    build_id = config.buildId or graph.suite or graph.root.name
    reports, summary = derive_run(log, graph, selected, build_id, config.maxConcurrentBuilds)
    run_dir = write_run_reports(config.reports_dir, reports, summary, render_timeline(summary))
    refresh_mirror(instance, graph, translator, {r["packageName"]: r["status"] for r in reports})
    return run_dir, summary


def report_unreported_runs(
    instance: dg.DagsterInstance, config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator,
    wait_seconds: float = 30,
) -> dict[str, bool]:
    """Write the reports of the runs a `build` started and never reported (it was killed): run id →
    whether it was left in progress (then marked failed here). A run whose `build` still runs is
    left to it; a run process still stopping is waited for."""
    home = Path(instance.root_directory)
    written: dict[str, bool] = {}
    for entry in unreported_runs(home):
        if entry.pid != os.getpid() and alive(entry.pid):
            continue
        run, marked = _ended_run(instance, entry, wait_seconds)
        if run is None:
            clear_unreported(home, entry.run_id)
        elif run.is_finished:
            report_run(instance, entry.run_id, config, graph, translator)
            clear_unreported(home, entry.run_id)
            written[entry.run_id] = marked
    return written


def _ended_run(instance: dg.DagsterInstance, entry: Unreported, wait_seconds: float) -> tuple[Any, bool]:
    """(the run once its process has recorded its end, waited for up to `wait_seconds`, or None when
    the instance has no such run; whether it was marked failed here, its process gone without ending it)."""
    deadline = time.monotonic() + wait_seconds
    run = instance.get_run_by_id(entry.run_id)
    while run is not None and not run.is_finished and alive(entry.run_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
        run = instance.get_run_by_id(entry.run_id)
    if run is not None and not run.is_finished and not alive(entry.run_pid):
        instance.report_run_failed(run, f"the build process (pid {entry.pid}) and the run's process (pid "
                                        f"{entry.run_pid}) are gone: killed or crashed before the run ended")
        return instance.get_run_by_id(entry.run_id), True
    return run, False
