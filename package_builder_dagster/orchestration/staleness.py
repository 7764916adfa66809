"""Which packages need building: missing, stale (their inputs changed), failed last time, changed
since a git ref, and everything downstream of those. No package step runs to find out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from package_builder_dagster.cache.digest import outputs_digest
from package_builder_dagster.cache.outputs import missing_outputs
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.reporting.reports import find_runs, read_summaries


def stale_packages(instance: Any, graph: WorkspaceGraph, translator: Any, reports_dir: Path) -> dict[str, str]:
    """name → why it must be built: never materialized, its inputs changed, it failed or was blocked
    in the last run that selected it, or it is downstream of one of those."""
    reasons: dict[str, str] = {}
    for pkg in graph:
        event = instance.get_latest_materialization_event(translator.get_asset_key(pkg))
        if event is None or event.asset_materialization is None:
            reasons[pkg.name] = "never materialized"
            continue
        built = (event.asset_materialization.tags or {}).get("dagster/code_version")
        if built != pkg.code_version:
            reasons[pkg.name] = "inputs changed since it was built"
            continue
        why = outputs_problem(pkg, event.asset_materialization.metadata)
        if why:
            reasons[pkg.name] = why
    for name, status in latest_statuses(reports_dir).items():
        if name in graph.packages and status in ("failed", "blocked") and name not in reasons:
            reasons[name] = f"{status} in the last run"
    return with_downstream(graph, reasons)


def outputs_problem(pkg: Package, metadata: dict[str, Any]) -> str | None:
    """Why the outputs a materialization recorded are not what is on disk now (None: they are)."""
    digest = getattr(metadata.get("outputs_digest"), "value", None)
    files = getattr(metadata.get("outputs"), "value", None)
    if digest is None or not isinstance(files, list):
        return None  # recorded before outputs were tracked
    missing = missing_outputs(pkg.dir, files)
    if missing:
        return f"{len(missing)} of its {len(files)} output file(s) are missing ({missing[0]})"
    count = getattr(metadata.get("outputs_count"), "value", len(files))
    if count != len(files):  # the recorded list was cut: what is not listed cannot be checked
        return f"its {count} outputs cannot be verified (only {len(files)} are recorded)"
    if outputs_digest(pkg.dir, files) != digest:
        return "its outputs changed since it was built"
    return None


def missing_outputs_of(instance: Any, graph: WorkspaceGraph, translator: Any, names: set[str]) -> dict[str, str]:
    """Among `names`, the packages whose recorded outputs are not on disk now, with why."""
    found = {}
    for name in names:
        event = instance.get_latest_materialization_event(translator.get_asset_key(graph[name]))
        if event is not None and event.asset_materialization is not None:
            why = outputs_problem(graph[name], event.asset_materialization.metadata)
            if why:
                found[name] = why
    return found


def with_downstream(graph: WorkspaceGraph, reasons: dict[str, str]) -> dict[str, str]:
    result = dict(reasons)
    for name in reasons:
        for dependent in graph.downstream({name}):
            result.setdefault(dependent, f"downstream of {name}")
    return result


def latest_statuses(reports_dir: Path) -> dict[str, str]:
    """Each package's status in the latest run that included it (from the runs' reports)."""
    status: dict[str, str] = {}
    for summary in read_summaries(find_runs(reports_dir)):  # oldest first: later runs overwrite
        for report in summary.get("packageReports", []):
            status[report["packageName"]] = report["status"]
    return status


def failed_in_latest_run(reports_dir: Path) -> set[str]:
    """The packages that failed or were blocked in the latest run."""
    runs = read_summaries(find_runs(reports_dir))
    if not runs:
        return set()
    return {r["packageName"] for r in runs[-1]["packageReports"] if r["status"] in ("failed", "blocked")}
