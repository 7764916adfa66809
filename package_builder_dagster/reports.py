"""The seed's JSON reports: one PackageBuildReport per package per run, and the suite summary.

Paths: `<reportsDir>/<YYYY-MM-DD>/<packageName>.json` (a scoped name `@scope/name` becomes the
folder `@scope` and the file `name.json`) and `<reportsDir>/<YYYY-MM-DD>/suite-summary.json`, the
latest run's copies; each run also keeps its own under `<date>/runs/<run-id>/`. Dates are UTC.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lint_score(errors: int | None, warnings: int | None) -> float | None:
    """100 − 10 per lint error − 2 per warning, floored at 0; None when lint did not run."""
    if errors is None:
        return None
    return float(max(0, 100 - 10 * errors - 2 * (warnings or 0)))


def package_report(payload: dict[str, Any], run_id: str, step_key: str, dependencies: list[str], waited_for: list[dict[str, Any]]) -> dict[str, Any]:
    """A PackageBuildReport (the seed's fields, camelCase) from a package's terminal payload."""
    timings = payload.get("timings") or {}
    coverage = payload.get("coverage") or {}
    checks = payload.get("checks") or {}
    status = {"done": "success"}.get(payload.get("state", ""), payload.get("state"))
    return {
        "packageName": payload["package"],
        "workflowId": f"{run_id}:{step_key}",
        "startTime": payload.get("start_time"),
        "endTime": payload.get("end_time"),
        "duration": payload.get("duration_ms", 0),
        "buildMetrics": {
            "buildTime": timings.get("build", 0),
            "testTime": timings.get("test", 0),
            "qualityCheckTime": timings.get("quality", 0),
            "publishTime": timings.get("publish", 0),
        },
        "quality": {
            "lintScore": lint_score(payload.get("lint_errors"), payload.get("lint_warnings")),
            "testCoverage": coverage.get("lines"),
            "typeScriptErrors": payload.get("typescript_errors"),
            "passed": status == "success" and all(c["passed"] or c.get("warning_only") for c in checks.values()),
        },
        "fixAttempts": payload.get("fix_attempts", []),
        "failures": payload.get("failures", []),
        "fixCommit": payload.get("fix_commit"),
        "publish": publish_record(payload.get("publish")),
        "status": status,
        "phase": payload.get("phase"),
        "error": payload.get("error"),
        "blockedBy": payload.get("blocked_by"),
        "warnings": payload.get("warnings", []),
        "dependencies": dependencies,
        "waitedFor": waited_for,
    }


def publish_record(publish: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report's `publish` object: status, version, registry, attempts, message, files and sizes."""
    if not publish:
        return None
    keys = ("status", "version", "registry", "attempts", "message", "files", "size", "unpacked_size", "duration_ms")
    renamed = {"unpacked_size": "unpackedSize", "duration_ms": "duration"}
    return {renamed.get(k, k): publish.get(k) for k in keys}


def update_package_report(reports_dir: Path, run_id: str, package_name: str, changes: dict[str, Any]) -> Path | None:
    """Merge `changes` into a run's report of one package (and the latest copy, if it is this run's)."""
    for run_copy in sorted(reports_dir.glob(f"*/runs/{run_id}")):
        date = run_copy.parent.parent.name
        paths = package_report_paths(reports_dir, date, run_id, package_name)
        if not paths[1].is_file():
            continue
        report = json.loads(paths[1].read_text())
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(report.get(key), dict):
                report[key].update(value)
            else:
                report[key] = value
        write_json_atomic(paths[1], report)
        if paths[0].is_file() and json.loads(paths[0].read_text()).get("workflowId", "").startswith(run_id):
            write_json_atomic(paths[0], report)
        return paths[0]
    return None


def report_date(iso_time: str | None = None) -> str:
    when = datetime.fromisoformat(iso_time) if iso_time else datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d")


def package_report_paths(reports_dir: Path, date: str, run_id: str, package_name: str) -> list[Path]:
    """The latest-run copy and the run's own copy of one package report."""
    rel = Path(*package_name.split("/")).with_suffix(".json") if "/" in package_name else Path(package_name + ".json")
    return [reports_dir / date / rel, reports_dir / date / "runs" / run_id / rel]


def write_package_report(reports_dir: Path, run_id: str, report: dict[str, Any]) -> Path:
    date = report_date(report.get("startTime"))
    paths = package_report_paths(reports_dir, date, run_id, report["packageName"])
    for path in reversed(paths):
        write_json_atomic(path, report)
    return paths[0]


def suite_summary(build_id: str, run_id: str, reports: list[dict[str, Any]], started: str, ended: str, selection: list[str]) -> dict[str, Any]:
    """The seed's BuildReport plus `blocked`, the run id and selection."""
    total_duration = int((datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds() * 1000)
    by_time = sorted((r for r in reports if r["status"] != "blocked"), key=lambda r: r["duration"], reverse=True)
    by_fix = sorted((r for r in reports if r["fixAttempts"]), key=lambda r: len(r["fixAttempts"]), reverse=True)
    return {
        "buildId": build_id,
        "runId": run_id,
        "timestamp": ended,
        "selection": selection,
        "totalPackages": len(reports),
        "successful": sum(r["status"] == "success" for r in reports),
        "failed": sum(r["status"] == "failed" for r in reports),
        "blocked": sum(r["status"] == "blocked" for r in reports),
        "totalDuration": total_duration,
        "totalFixAttempts": sum(len(r["fixAttempts"]) for r in reports),
        "slowestPackages": by_time[:5],
        "mostFixAttempts": by_fix[:5],
        "totalWaitTime": sum(w["waitTime"] for r in reports for w in r["waitedFor"]),
        "packageReports": reports,
    }


def write_suite_summary(reports_dir: Path, summary: dict[str, Any]) -> Path:
    date = report_date(summary["timestamp"])
    latest = reports_dir / date / "suite-summary.json"
    write_json_atomic(reports_dir / date / "runs" / summary["runId"] / "suite-summary.json", summary)
    write_json_atomic(latest, summary)
    return latest


def load_run_reports(reports_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """Every package report a run wrote (from its own folder, whatever the date)."""
    reports = []
    for run_dir in sorted(reports_dir.glob(f"*/runs/{run_id}")):
        for path in sorted(run_dir.rglob("*.json")):
            if path.name != "suite-summary.json":
                reports.append(json.loads(path.read_text()))
    return reports
