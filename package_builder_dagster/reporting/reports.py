"""The seed's JSON reports: one PackageBuildReport per package per run, and the suite summary.

Paths: `<reportsDir>/<YYYY-MM-DD>/<packageName>.json` (a scoped name `@scope/name` becomes the
folder `@scope` and the file `name.json`) and `<reportsDir>/<YYYY-MM-DD>/suite-summary.json`, the
latest run's copies; each run also keeps its own under `<date>/runs/<run-id>/`. Dates are UTC.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from package_builder_dagster.discovery.package_names import package_path
from package_builder_dagster.execution.record import PackageRecord, blocked_record
from package_builder_dagster.files import write_text_atomic
from package_builder_dagster.paths import UnsafePath, inside


def lint_score(errors: int | None, warnings: int | None) -> float | None:
    """100 − 10 per lint error − 2 per warning, floored at 0; None when lint did not run."""
    if errors is None:
        return None
    return float(max(0, 100 - 10 * errors - 2 * (warnings or 0)))


def _ms(a: str | None, b: str | None) -> int:
    """Milliseconds from ISO time `a` to `b` (0 when either is unknown)."""
    if not a or not b:
        return 0
    return int((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000)


def package_report(record: PackageRecord, workflow_id: str, dependencies: list[str], waited_for: list[dict[str, Any]]) -> dict[str, Any]:
    """A PackageBuildReport (the seed's fields, camelCase) from a package's record."""
    timings = record.timings
    return {
        "packageName": record.package,
        "workflowId": workflow_id,
        "startTime": record.start_time,
        "endTime": record.end_time,
        "duration": record.duration_ms,  # its own commands' time (how long at least one of them ran)
        "span": record.span_ms,  # its first task's start to its end, waits included
        "buildMetrics": {
            "buildTime": timings.get("build", 0),
            "testTime": timings.get("test", 0),
            "qualityCheckTime": timings.get("quality", 0),
            "publishTime": timings.get("publish", 0),
        },
        "quality": {
            "lintScore": lint_score(record.lint_errors, record.lint_warnings),
            "testCoverage": (record.coverage or {}).get("lines"),
            "typeScriptErrors": record.typescript_errors,
            "passed": record.status == "success" and all(c.passed or c.warning_only for c in record.checks.values()),
        },
        # each gate as its asset check reports it: severity warn when it only warns (or did not run)
        "checks": {name: {"passed": c.passed, "ran": c.ran, "severity": "warn" if (c.warning_only or not c.ran) else "error",
                          "description": c.description} for name, c in record.checks.items()},
        "fixAttempts": [asdict(a) for a in record.fix_attempts],
        "status": record.status,
        "phase": record.phase,
        "error": record.error,
        "blockedBy": record.blocked_by,
        "warnings": list(record.warnings),
        "failures": [{k: v for k, v in asdict(f).items() if k != "output_tail"} for f in record.failures],
        "fixCommit": record.fix_commit,
        "flakyTests": asdict(record.flaky) if record.flaky else None,  # tests that passed only on a retry
        "publish": publish_record(asdict(record.publish) if record.publish else None),
        "cache": cache_report(record),
        "dependencies": dependencies,
        "waitedFor": waited_for,
        "dependencyWait": max((w["waitTime"] for w in waited_for), default=0),  # until its last dependency ended
        "serialized": [dict(e) for e in record.serialized],
        "rewroteOutputs": list(record.rewrote_outputs),
    }


def cache_report(record: PackageRecord) -> dict[str, Any] | None:
    """The report's `cache` object: hit, key, where it came from, restore and saved time, outputs digest."""
    cache = record.cache
    if cache is None:
        return None
    return {"hit": cache.hit, "key": cache.key, "restoredFrom": cache.source, "restoreTime": cache.restore_ms,
            "savedTime": cache.saved_ms, "stored": cache.stored, "note": cache.note,
            "outputsDigest": record.outputs_digest, "outputs": record.outputs_count}


def cache_totals(reports: list[dict[str, Any]]) -> dict[str, int]:
    """Hits (local, remote), misses and the build time hits saved, over a run's package reports."""
    caches = [r["cache"] for r in reports if r.get("cache")]
    hits = [c for c in caches if c["hit"]]
    return {"hits": len(hits), "hitsLocal": sum(c["restoredFrom"] == "local" for c in hits),
            "hitsRemote": sum(c["restoredFrom"] == "remote" for c in hits), "misses": len(caches) - len(hits),
            "savedTime": sum(c["savedTime"] for c in hits)}


def publish_record(publish: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report's `publish` object: status, version, registry, attempts, message, files and sizes."""
    if not publish:
        return None
    keys = ("status", "version", "registry", "attempts", "message", "files", "size", "unpacked_size", "duration_ms")
    renamed = {"unpacked_size": "unpackedSize", "duration_ms": "duration"}
    return {renamed.get(k, k): publish.get(k) for k in keys}


def report_date(iso_time: str | None = None) -> str:
    when = datetime.fromisoformat(iso_time) if iso_time else datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d")


SUMMARY_FILE = "suite-summary.json"
TIMELINE_FILE = "timeline.html"


def report_path(folder: Path, package_name: str) -> Path:
    """`folder/@scope/name.json` (a folder per scope, so names never collide), checked to stay in `folder`
    and never to be the summary's own file."""
    path = package_path(folder, package_name, ".json")
    if path == folder / SUMMARY_FILE:
        raise UnsafePath(f"package {package_name!r} would overwrite the run's {SUMMARY_FILE} in {folder}")
    return path


def run_folder(reports_dir: Path, start_time: str | None, run_id: str) -> Path:
    """`<reports>/<date>/runs/<run id>`, the run id checked to be one folder name."""
    return inside(reports_dir, report_date(start_time), "runs", run_id)


def package_report_path(reports_dir: Path, start_time: str | None, run_id: str, package_name: str) -> Path:
    """Where a run's own copy of a package report goes."""
    return report_path(run_folder(reports_dir, start_time, run_id), package_name)


def critical_chain(reports: list[dict[str, Any]]) -> list[str]:
    """The chain that set the run's length: from the package that ended last, back through the
    dependency each one waited for last (while it did not wait for a slot)."""
    ran = {r["packageName"]: r for r in reports if r["status"] != "blocked" and r.get("startTime") and r.get("endTime")}
    if not ran:
        return []
    current = max(ran.values(), key=lambda r: r["endTime"])
    chain = [current["packageName"]]
    while True:
        deps = [ran[d] for d in current["dependencies"] if d in ran and ran[d]["endTime"] <= current["startTime"]]
        if not deps:
            break
        current = max(deps, key=lambda r: r["endTime"])
        chain.append(current["packageName"])
    return list(reversed(chain))


def assign_slots(reports: list[dict[str, Any]]) -> None:
    """Give each package that ran the lowest slot free at its start (for the timeline)."""
    free_at: list[str] = []
    for report in sorted((r for r in reports if r.get("runStart")), key=lambda r: r["runStart"]):
        slot = next((i for i, end in enumerate(free_at) if end <= report["runStart"]), len(free_at))
        if slot == len(free_at):
            free_at.append("")
        free_at[slot] = report["endTime"] or report["runStart"]
        report["slot"] = slot


def build_end(record: PackageRecord) -> str | None:
    """When the package's outputs were ready for its dependents: the end of its last build command (a
    dependent's build waits for its dependencies' builds only), else its end (restored, or no build)."""
    ends = [datetime.fromisoformat(s.start) + timedelta(milliseconds=s.duration_ms)
            for s in record.steps if s.phase == "build" and s.start and s.status in ("passed", "failed")]
    return max(ends).isoformat(timespec="milliseconds") if ends else record.end_time or record.time or None


def waited_for(run_start: str | None, record: PackageRecord, dependency: PackageRecord) -> int:
    """How long the package waited for `dependency`, from the run's start: until that dependency's build
    ended, and never past the moment the package itself started."""
    ready = build_end(dependency)
    if record.start_time and ready and record.start_time < ready:
        ready = record.start_time
    return max(0, _ms(run_start, ready))


def run_records(log: Any, graph: Any, selected: list[str], run_end: str) -> dict[str, PackageRecord]:
    """Every selected package's record: its own, or, for a package Dagster skipped (its step waited for a
    failed one) or that the run ended before, one that says why (blocked by the failed dependency)."""
    terminal = {name: log.records[name] for name in selected if name in log.records}
    records = {}
    for name in selected:
        if name in terminal:
            records[name] = terminal[name]
            continue
        failed_up = [d for d in graph.upstream({name}) if d in terminal and terminal[d].state in ("failed", "blocked")]
        root = next((d for d in failed_up if terminal[d].state == "failed"), failed_up[0] if failed_up else None)
        records[name] = blocked_record(name, run_end, root, f"blocked: dependency {root} {terminal[root].state}" if root
                                       else "not finished: the run ended before this package did")
    return records


def derive_run(log: Any, graph: Any, selected: list[str], build_id: str, slots: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every selected package's report and the suite summary of one run, from its event log alone.

    `log` is an events.RunLog; `selected` the package names the run selected, in dependency order.
    """
    by_package: dict[str, list[dict[str, Any]]] = {}
    for payload in log.payloads:
        by_package.setdefault(payload.get("package", ""), []).append(payload)
    times = [p["time"] for p in log.payloads] + [r.time for r in log.records.values()]
    run_start = log.start or min(times, default=None)
    run_end = log.end or max(times, default=run_start)
    terminal = {name: log.records[name] for name in selected if name in log.records}
    records = run_records(log, graph, selected, run_end or "")
    reports = []
    for name in selected:
        pkg = graph[name]
        events = by_package.get(name, [])
        record = records[name]
        step = record.step or next((p.get("step") for p in events if p.get("step")), None) or "packages"
        waited = [{"packageName": d, "waitTime": waited_for(run_start, record, terminal[d]) if d in terminal else 0}
                  for d in pkg.dependencies]
        report = package_report(record, f"{log.run_id}:{step}", list(pkg.dependencies), waited)
        if record.states:  # the record keeps its state changes (older runs logged them as events)
            events = [{"state": state, "time": time, "slot_wait_ms": record.slot_wait_ms} for state, time in record.states]
        started = next((p for p in events if p["state"] == "started"), None)
        report["runStart"] = started["time"] if started else None
        report["slotWaitTime"] = int((started or {}).get("slot_wait_ms", 0))
        report["phases"] = _phases(events, record)
        reports.append(report)
    for payload in log.payloads:  # COMPLETE published the suite package after its step
        if payload["state"] == "suite-publish":
            for report in reports:
                if report["packageName"] == payload["package"]:
                    report["publish"] = publish_record(payload.get("publish"))
                    report["buildMetrics"]["publishTime"] = (payload.get("publish") or {}).get("duration_ms", 0)
    assign_slots(reports)
    summary = suite_summary(build_id, log, reports, run_start, run_end, slots)
    summary.update(scheduling_figures(reports, terminal, graph, summary["totalDuration"], slots))
    summary["priority"] = next((r.priority_basis for r in terminal.values() if r.priority_basis), None)
    # When and why the scheduler kept tasks apart (a task that rewrites outputs others read, `tsc -b`
    # builds reaching one referenced project): each writer task, its reason, what it held back or waited for.
    summary["serialized"] = [dict(e) for name in selected if name in terminal for e in terminal[name].serialized]
    busy, wall = summary["commandTime"], summary["totalDuration"]  # busy = commands running, not packages waiting
    summary["slotUtilization"] = round(busy / (slots * wall), 4) if busy and wall and slots else None
    return reports, summary


STEP_STATES = {"build": "building", "test": "testing", "quality": "checking"}


def _phases(events: list[dict[str, Any]], record: PackageRecord) -> list[dict[str, Any]]:
    """[{phase, start, end}] of one package (for the timeline): each command from its step (tasks of
    one package can overlap), the other states from one state change to the next."""
    timed = [s for s in record.steps if s.start and s.status in ("passed", "failed")]
    marks = [(p["state"], p["time"]) for p in events if p["state"] not in ("queued", "started", "suite-publish")]
    phases = []
    for (state, start), nxt in zip(marks, marks[1:] + [(None, record.end_time or record.time)], strict=False):
        if state in ("done", "failed", "blocked") or not nxt[1] or (timed and state in STEP_STATES.values()):
            continue
        phases.append({"phase": state, "start": start, "end": nxt[1]})
    for step in timed:
        end = datetime.fromisoformat(step.start) + timedelta(milliseconds=step.duration_ms)  # type: ignore[arg-type]
        phases.append({"phase": STEP_STATES.get(step.phase, step.phase), "start": step.start,
                       "end": end.isoformat(timespec="milliseconds"), "script": step.script})
    return sorted(phases, key=lambda ph: ph["start"])


def scheduling_figures(reports: list[dict[str, Any]], records: dict[str, PackageRecord], graph: Any, wall_ms: int,
                       slots: int) -> dict[str, Any]:
    """Commands' time, the lower bound of the wall time at `slots` (the longest build chain plus the
    package's longest test or check, or all command time spread over the slots, whichever is more)
    and the overhead per package: (wall − lower bound) / packages that ran commands."""
    build: dict[str, float] = {}
    after: dict[str, float] = {}
    total = 0.0
    for name, record in records.items():
        b = t = 0.0
        checks: list[float] = []
        for step in record.steps:
            if step.status not in ("passed", "failed"):
                continue
            total += step.duration_ms
            if step.phase == "build":
                b += step.duration_ms
            elif step.phase == "test":
                t += step.duration_ms
            else:
                checks.append(step.duration_ms)
        if b or t or checks:
            build[name], after[name] = b, max([t, *checks])
    chain: dict[str, float] = {}
    for name in graph.packages:  # dependency order
        if name in build:
            chain[name] = build[name] + max((chain.get(d, 0.0) for d in graph[name].dependencies), default=0.0)
    longest = max((chain[n] + after[n] for n in chain), default=0.0)
    bound = max(longest, total / slots if slots else total)
    ran = len(build)
    return {
        "commandTime": int(total),
        "lowerBound": int(bound),
        "overheadPerPackage": round((wall_ms - bound) / ran / 1000, 3) if ran and wall_ms else None,
    }


def suite_summary(build_id: str, log: Any, reports: list[dict[str, Any]], started: str | None, ended: str | None, slots: int) -> dict[str, Any]:
    """The seed's BuildReport plus blocked, run id and status, selection, critical path, slot utilization,
    flaky packages."""
    wall = _ms(started, ended)
    by_time = sorted((r for r in reports if r["status"] != "blocked"), key=lambda r: r["duration"], reverse=True)
    by_fix = sorted((r for r in reports if r["fixAttempts"]), key=lambda r: len(r["fixAttempts"]), reverse=True)
    brief = ("packageName", "status", "duration", "startTime", "endTime")
    return {
        "buildId": build_id,
        "runId": log.run_id,
        "runStatus": log.status,
        "timestamp": ended or started,
        "startTime": started,
        "endTime": ended,
        "selection": log.selection,
        "totalPackages": len(reports),
        "successful": sum(r["status"] == "success" for r in reports),
        "failed": sum(r["status"] == "failed" for r in reports),
        "blocked": sum(r["status"] == "blocked" for r in reports),
        "totalDuration": wall,
        "totalFixAttempts": sum(len(r["fixAttempts"]) for r in reports),
        "slowestPackages": [{k: r[k] for k in brief} for r in by_time[:5]],
        "mostFixAttempts": [{"packageName": r["packageName"], "fixAttempts": len(r["fixAttempts"])} for r in by_fix[:5]],
        "flakyPackages": flaky_packages(reports),
        # per package, until its last dependency ended (not per edge: a package's waits overlap), summed
        "totalWaitTime": sum(r.get("dependencyWait", 0) for r in reports),
        "waitingPackages": sum(1 for r in reports if r.get("dependencyWait")),
        "totalSlotWaitTime": sum(r["slotWaitTime"] for r in reports),
        "criticalPath": critical_chain(reports),
        "cache": cache_totals(reports),
        "slots": slots,
        "slotUtilization": None,  # set from the commands' time (derive_run)
        "packageReports": reports,
    }


def flaky_packages(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packages whose tests failed and then passed on a retry: attempts, failed attempts, first error."""
    return [{"packageName": r["packageName"], "attempts": flaky["attempts"], "failedAttempts": len(flaky["failedAttempts"]),
             "firstError": flaky["failedAttempts"][0]["error"] if flaky["failedAttempts"] else None}
            for r in reports if (flaky := r.get("flakyTests"))]


def write_run_reports(reports_dir: Path, reports: list[dict[str, Any]], summary: dict[str, Any], html: str | None = None) -> Path:
    """Write one run's reports in its own folder, and as the latest copies unless a later run wrote those."""
    start = summary.get("startTime") or summary["timestamp"]
    run_dir = run_folder(reports_dir, start, summary["runId"])
    day_dir = inside(reports_dir, report_date(start))
    folders = [run_dir, day_dir] if _is_newer_or_same(summary, day_dir / SUMMARY_FILE) else [run_dir]
    for folder in folders:
        files = {report_path(folder, r["packageName"]): r for r in reports}  # every path checked before any write
        files[folder / SUMMARY_FILE] = summary
        for path, data in files.items():
            _write_if_changed(path, json.dumps(data, indent=2, default=str) + "\n")
        if html is not None:
            _write_if_changed(folder / TIMELINE_FILE, html)
    return run_dir


def _write_if_changed(path: Path, text: str) -> None:
    """Write `path` atomically unless it holds `text` already: a run's reports are written by its
    suite summary and again once the run has ended, and most files come out the same."""
    try:
        if path.read_text() == text:
            return
    except (OSError, ValueError):
        pass
    write_text_atomic(path, text)


def _is_newer_or_same(summary: dict[str, Any], latest: Path) -> bool:
    try:
        current = json.loads(latest.read_text())
    except (OSError, ValueError):
        return True
    return current.get("runId") == summary["runId"] or (current.get("startTime") or "") <= (summary.get("startTime") or "")


def read_summaries(run_dirs: list[Path]) -> list[dict[str, Any]]:
    """The readable suite summaries of `run_dirs` (each embeds its package reports), oldest run first."""
    runs = []
    for run_dir in run_dirs:
        try:
            runs.append(json.loads((run_dir / SUMMARY_FILE).read_text()))
        except (OSError, ValueError):
            continue
    return sorted(runs, key=lambda s: s.get("startTime") or s.get("timestamp") or "")


def find_runs(reports_dir: Path, run: str | None = None, since: str | None = None, until: str | None = None) -> list[Path]:
    """Run folders (`<date>/runs/<id>`) by run id, or by date range (inclusive, YYYY-MM-DD)."""
    found = []
    for summary in sorted(reports_dir.glob("*/runs/*/suite-summary.json")):
        run_dir = summary.parent
        date = run_dir.parent.parent.name
        if run and run_dir.name != run:
            continue
        if since and date < since or until and date > until:
            continue
        found.append(run_dir)
    return found
