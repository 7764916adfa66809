"""Recording a run's reports from its event log, whenever and however the run ended.

`record_run` is the one piece of code that turns a run's event log into its JSON reports and its
timeline; the CLI calls it after `build`, the COMPLETE asset on a green run, and the run-status
sensors here for runs started from the UI or by other sensors (`dagster dev` runs the daemon).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from .config import BuildConfig
from .events import read_run
from .graph import WorkspaceGraph
from .reports import derive_run, write_run_reports
from .timeline import render_timeline
from .translator import PackageTranslator


def record_run(
    instance: dg.DagsterInstance, run_id: str, config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator
) -> tuple[Path, dict[str, Any]]:
    """Write run `run_id`'s package reports, suite summary and timeline; (run folder, summary)."""
    log = read_run(instance, run_id)
    names = {translator.get_asset_key(p).to_user_string(): p.name for p in graph}
    if log.selection is None:
        selected = list(graph.packages)
    else:
        chosen = {names[k] for k in log.selection if k in names}
        selected = [n for n in graph.packages if n in chosen]
    build_id = config.buildId or graph.suite or graph.root.name
    reports, summary = derive_run(log, graph, selected, build_id, config.maxConcurrentBuilds)
    run_dir = write_run_reports(config.reports_dir, reports, summary, render_timeline(summary))
    return run_dir, summary


def build_report_sensors(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator, job: Any
) -> list[dg.SensorDefinition]:
    """One run-status sensor per way a run ends (success, failure, cancel), each recording its reports."""
    sensors = []
    for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        def _record(context: dg.RunStatusSensorContext) -> dg.SkipReason:
            run_dir, summary = record_run(context.instance, context.dagster_run.run_id, config, graph, translator)
            return dg.SkipReason(f"reports of run {summary['runId']} written to {run_dir}")

        sensors.append(dg.run_status_sensor(
            run_status=status,
            name=f"package_builder_reports_on_{status.value.lower()}",
            monitored_jobs=[job],
            default_status=dg.DefaultSensorStatus.RUNNING,
            description=f"Writes the JSON reports and the timeline of every {status.value.lower()} run of the build job.",
        )(_record))
    return sensors
