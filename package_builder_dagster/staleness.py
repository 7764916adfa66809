"""Which packages need building: missing, stale (their inputs changed), failed last time, changed
since a git ref, and everything downstream of those. No package step runs to find out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .graph import WorkspaceGraph
from .reports import find_runs, read_summaries


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
    for name, status in latest_statuses(reports_dir).items():
        if name in graph.packages and status in ("failed", "blocked") and name not in reasons:
            reasons[name] = f"{status} in the last run"
    return with_downstream(graph, reasons)


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
