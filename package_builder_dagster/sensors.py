"""Sensors: recording a run's reports from its event log whenever and however the run ended, and
requesting runs when plans (or package sources) change.

`record_run` is the one piece of code that turns a run's event log into its JSON reports and its
timeline; the CLI calls it after `build`, the COMPLETE asset on a green run, and the run-status
sensors here for runs started from the UI or by other sensors (`dagster dev` runs the daemon).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import dagster as dg

from .config import BuildConfig
from .events import RunLog, read_run
from .materialized import read_mirror, write_mirror
from .graph import WorkspaceGraph
from .reports import derive_run, write_run_reports
from .timeline import render_timeline
from .translator import PackageTranslator
from .versions import plan_digest, source_hash, workspace_files


def record_run(
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
    refresh_mirror(instance, config, graph, translator, {r["packageName"]: r["status"] for r in reports})
    return run_dir, summary


def refresh_mirror(instance: dg.DagsterInstance, config: BuildConfig, graph: WorkspaceGraph,
                   translator: PackageTranslator, statuses: dict[str, str]) -> None:
    """Rewrite the plain-JSON mirror of each package's latest materialization (for `build --stale`)."""
    home = Path(instance.root_directory)
    previous = read_mirror(home)
    keys = {translator.get_asset_key(p): p.name for p in graph}
    packages = {}
    for key, entry in instance.get_latest_materialization_events(list(keys)).items():
        mat = entry.asset_materialization if entry else None
        if mat is None:
            continue
        name = keys[key]
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        packages[name] = {
            "codeVersion": (mat.tags or {}).get("dagster/code_version"),
            "outputs": meta.get("outputs"), "outputsDigest": meta.get("outputs_digest"), "outputsCount": meta.get("outputs_count"),
            "status": statuses.get(name) or (previous.get(name) or {}).get("status"),
        }
    for name, status in statuses.items():  # failed before it ever materialized
        packages.setdefault(name, {"status": status})
    write_mirror(home, packages)


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
