"""Which packages need building: missing, stale (their inputs changed), failed last time, changed
since a git ref, and everything downstream of those. No package step runs to find out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .graph import WorkspaceGraph
from .reports import find_runs


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
    status: dict[str, tuple[str, str]] = {}
    for run_dir in find_runs(reports_dir):
        try:
            summary = json.loads((run_dir / "suite-summary.json").read_text())
        except (OSError, ValueError):
            continue
        started = summary.get("startTime") or ""
        for report in summary.get("packageReports", []):
            name = report["packageName"]
            if name not in status or status[name][0] <= started:
                status[name] = (started, report["status"])
    return {name: s for name, (_, s) in status.items()}


def failed_in_latest_run(reports_dir: Path) -> set[str]:
    """The packages that failed or were blocked in the latest run."""
    runs = []
    for run_dir in find_runs(reports_dir):
        try:
            runs.append(json.loads((run_dir / "suite-summary.json").read_text()))
        except (OSError, ValueError):
            continue
    if not runs:
        return set()
    latest = max(runs, key=lambda s: s.get("startTime") or "")
    return {r["packageName"] for r in latest["packageReports"] if r["status"] in ("failed", "blocked")}
