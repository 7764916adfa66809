"""A run's reports from its Dagster event log: the one function that turns a run into its JSON
reports, its timeline and the mirror `build --stale` reads. The CLI calls it after `build`, the
suite summary asset on a green run, and the run-status sensors for runs started elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.orchestration.materialization_mirror import refresh_mirror
from package_builder_dagster.orchestration.run_events import RunLog, read_run
from package_builder_dagster.orchestration.translator import PackageTranslator
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
