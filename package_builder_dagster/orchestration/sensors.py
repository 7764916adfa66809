"""Sensors: a run's reports whenever and however the run ended (for runs started from the UI or by
other sensors; `dagster dev` runs the daemon), and run requests when plans or package sources change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.code_versions import plan_digest, source_hash, workspace_files
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.orchestration.run_reports import report_run
from package_builder_dagster.orchestration.translator import PackageTranslator


def build_report_sensors(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator, job: Any
) -> list[dg.SensorDefinition]:
    """One run-status sensor per way a run ends (success, failure, cancel), each recording its reports."""
    sensors = []
    for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        def _record(context: dg.RunStatusSensorContext) -> dg.SkipReason:
            run_dir, summary = report_run(context.instance, context.dagster_run.run_id, config, graph, translator)
            return dg.SkipReason(f"reports of run {summary['runId']} written to {run_dir}")

        sensors.append(dg.run_status_sensor(
            run_status=status,
            name=f"package_builder_reports_on_{status.value.lower()}",
            monitored_jobs=[job],
            default_status=dg.DefaultSensorStatus.RUNNING,
            description=f"Writes the JSON reports and the timeline of every {status.value.lower()} run of the build job.",
        )(_record))
    return sensors


def _change_sensor(name: str, description: str, state: Callable[[], dict[str, str]], graph: WorkspaceGraph,
                   translator: PackageTranslator, job: Any, interval: int, default: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    """A sensor whose cursor holds one content hash per package; it requests a run for the packages whose hash changed."""

    @dg.sensor(name=name, job=job, minimum_interval_seconds=interval, default_status=default, description=description)
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        current = state()
        previous = json.loads(context.cursor) if context.cursor else None
        if previous is None:  # first tick: remember, request nothing
            return dg.SensorResult(skip_reason=dg.SkipReason(f"recorded {len(current)} package(s); changes from now on start runs"),
                                   cursor=json.dumps(current, sort_keys=True))
        changed = [n for n in graph.packages if n in current and previous.get(n) != current[n]]
        if not changed:
            return dg.SensorResult(skip_reason=dg.SkipReason("nothing changed"), cursor=json.dumps(current, sort_keys=True))
        run_key = hashlib.sha256(json.dumps({n: current[n] for n in changed}, sort_keys=True).encode()).hexdigest()[:20]
        request = dg.RunRequest(run_key=f"{name}:{run_key}", asset_selection=[translator.get_asset_key(graph[n]) for n in changed],
                                tags={"package-builder/source": name, "package-builder/changed": ",".join(changed)[:200]})
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(current, sort_keys=True))

    return _sensor


def build_change_sensors(graph: WorkspaceGraph, translator: PackageTranslator, job: Any) -> list[dg.SensorDefinition]:
    """Sensors on plan changes (on by default) and on package sources (off by default)."""
    def plans() -> dict[str, str]:
        return {pkg.name: plan_digest(pkg) for pkg in graph}

    def sources() -> dict[str, str]:
        listed = workspace_files(graph.root)
        return {pkg.name: source_hash(pkg, listed) for pkg in graph}

    return [
        _change_sensor("package_builder_plan_changes", "Requests a run for exactly the packages whose plan changed (or was added).",
                       plans, graph, translator, job, 30, dg.DefaultSensorStatus.RUNNING),
        _change_sensor("package_builder_source_changes", "Requests a run for exactly the packages whose source files changed.",
                       sources, graph, translator, job, 60, dg.DefaultSensorStatus.STOPPED),
    ]
