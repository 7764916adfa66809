"""Reports of a synthetic run, in process: the package reports and the suite summary `derive_run` makes
from a run's event log (records of the shape the package step stores), the timeline rendered from
them, and the reports folder they are written to and read back from. No Dagster run, no subprocess."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.execution.record import PackageRecord, check_result
from package_builder_dagster.execution.steps import StepRun
from package_builder_dagster.orchestration.run_events import RunLog
from package_builder_dagster.reporting.reports import derive_run, find_runs, read_summaries, write_run_reports
from package_builder_dagster.reporting.timeline import render_timeline

from .test_timeline import parse

T0 = datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC)
DEPS = {"@ex/core": [], "@ex/util": ["@ex/core"], "@ex/app": ["@ex/util"], "@ex/cli": ["@ex/app"], "@ex/docs": []}


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def step(phase: str, start: float, seconds: float, status: str = "passed") -> StepRun:
    return StepRun(phase, f"npm run {phase}", status, int(seconds * 1000), start=at(start), exit_code=0 if status == "passed" else 1)


def record(name: str, start: float, steps: list[StepRun], state: str = "done", **fields) -> PackageRecord:
    """A package's record as its step stores it: its commands, its state changes, then closed at its end."""
    end = max(datetime.fromisoformat(s.start) + timedelta(milliseconds=s.duration_ms) for s in steps)
    rec = PackageRecord(package=name, state=state, start_time=at(start), steps=steps,
                        states=[("started", at(start))] + [(s.phase + "ing" if s.phase != "quality" else "checking", s.start) for s in steps],
                        timings={p: sum(s.duration_ms for s in steps if s.phase == p) for p in ("build", "test", "quality", "publish")},
                        **fields)
    return rec.close(end.isoformat(timespec="milliseconds"))


def synthetic_run() -> tuple[RunLog, WorkspaceGraph]:
    """core → util → app → cli, and docs on its own, at 2 slots: util builds while core's tests run, app's
    test fails, so cli never runs."""
    records = {
        "@ex/core": record("@ex/core", 0.0, [step("build", 0.0, 2.0), step("test", 2.0, 3.0)], lint_errors=1, lint_warnings=3,
                           checks={"lint": check_result("lint", True, True, "1 error, 3 warnings")}),
        "@ex/util": record("@ex/util", 2.0, [step("build", 2.0, 1.5)], coverage={"lines": 91.5}),
        "@ex/docs": record("@ex/docs", 0.5, [step("build", 0.5, 1.0)], slot_wait_ms=0),
        "@ex/app": record("@ex/app", 3.5, [step("build", 3.5, 1.0), step("test", 4.5, 2.0, "failed")], state="failed",
                          phase="test", error="FAIL src/app.test.ts > adds"),
    }
    packages = {name: Package(name=name, version="1.0.0", path=name.split("/")[1], dir=Path("/ws") / name.split("/")[1],
                              dependencies=deps, scripts={}) for name, deps in DEPS.items()}
    log = RunLog("run-1", "FAILURE", at(0.0), at(7.0), None, records=records)
    return log, WorkspaceGraph(root=Path("/ws"), packages=packages)


@pytest.fixture(scope="module")
def derived() -> tuple[list[dict], dict]:
    log, graph = synthetic_run()
    return derive_run(log, graph, list(DEPS), "suite", slots=2)


def test_every_selected_package_gets_a_report_and_the_skipped_one_is_blocked_by_the_failure(derived):
    reports, summary = derived
    by_name = {r["packageName"]: r for r in reports}
    assert [r["packageName"] for r in reports] == list(DEPS)
    assert {n: r["status"] for n, r in by_name.items()} == {
        "@ex/core": "success", "@ex/util": "success", "@ex/app": "failed", "@ex/cli": "blocked", "@ex/docs": "success"}
    assert by_name["@ex/cli"]["blockedBy"] == "@ex/app" and by_name["@ex/cli"]["error"] == "blocked: dependency @ex/app failed"
    assert by_name["@ex/app"]["phase"] == "test" and by_name["@ex/app"]["error"] == "FAIL src/app.test.ts > adds"
    assert (summary["totalPackages"], summary["successful"], summary["failed"], summary["blocked"]) == (5, 3, 1, 1)
    assert summary["runId"] == "run-1" and summary["runStatus"] == "FAILURE" and summary["totalDuration"] == 7000


def test_a_package_waits_for_its_dependencys_build_not_its_tests(derived):
    by_name = {r["packageName"]: r for r in derived[0]}
    assert by_name["@ex/util"]["waitedFor"] == [{"packageName": "@ex/core", "waitTime": 2000}]  # core's build ended at 2 s
    assert by_name["@ex/app"]["waitedFor"] == [{"packageName": "@ex/util", "waitTime": 3500}]
    assert by_name["@ex/cli"]["waitedFor"] == [{"packageName": "@ex/app", "waitTime": 4500}]  # a failed package's build still ended
    assert by_name["@ex/core"]["dependencyWait"] == 0 and by_name["@ex/app"]["dependencyWait"] == 3500


def test_package_figures_come_from_the_record(derived):
    core = derived[0][0]
    assert core["buildMetrics"] == {"buildTime": 2000, "testTime": 3000, "qualityCheckTime": 0, "publishTime": 0}
    assert core["duration"] == 5000 and core["startTime"] == at(0.0) and core["endTime"] == at(5.0)
    assert core["quality"]["lintScore"] == 84.0  # 100 − 10 × 1 error − 2 × 3 warnings
    assert core["checks"] == {"lint": {"passed": True, "ran": True, "severity": "error", "description": "1 error, 3 warnings"}}
    assert derived[0][1]["quality"]["testCoverage"] == 91.5
    assert [(p["phase"], p["start"], p["end"]) for p in core["phases"]] == [("building", at(0.0), at(2.0)), ("testing", at(2.0), at(5.0))]


def test_summary_critical_path_slots_and_command_time(derived):
    reports, summary = derived
    # app ended last (6.5 s), after util (ended 3.5 s, as app started); core's tests ran beside util's build, so
    # util did not wait for core's end: the chain starts at util
    assert summary["criticalPath"] == ["@ex/util", "@ex/app"]
    assert summary["commandTime"] == 2000 + 3000 + 1500 + 1000 + 2000 + 1000
    assert summary["lowerBound"] == 6500  # the longest build chain plus its tests (2 + 1.5 + 1 + 2 s) beats 10.5 s over 2 slots
    assert summary["slotUtilization"] == 0.75  # 10.5 s of commands in 2 slots × 7 s
    slots = {r["packageName"]: r.get("slot") for r in reports}
    assert slots["@ex/core"] != slots["@ex/docs"] and slots["@ex/cli"] is None  # docs ran beside core; cli never started
    assert [s["packageName"] for s in summary["slowestPackages"]][:2] == ["@ex/core", "@ex/app"]


def test_the_timeline_of_the_derived_run_has_a_bar_per_package_and_marks_the_critical_path(derived):
    page = parse(render_timeline(derived[1]))
    classes = {name: set(c.split()) for name, c in page.bars.items()}
    assert set(classes) == set(DEPS)
    assert {n for n, c in classes.items() if "critical" in c} == {"@ex/util", "@ex/app"}
    assert "failed" in classes["@ex/app"] and classes["@ex/cli"] == {"bar", "blocked"}
    assert page.outlines == {name: 1 for name in DEPS if name != "@ex/cli"}


def test_reports_are_written_per_run_and_the_latest_copies_follow_the_newest_run(tmp_path, derived):
    reports, summary = derived
    first = write_run_reports(tmp_path, reports, summary, html="<html>first</html>")
    older = {**summary, "runId": "run-0", "startTime": at(-3600), "endTime": at(-3590), "timestamp": at(-3590)}
    second = write_run_reports(tmp_path, reports, older)
    day = tmp_path / "2026-03-04"
    assert first != second and first.parent == second.parent == day / "runs"
    assert json.loads((first / "@ex" / "core.json").read_text())["packageName"] == "@ex/core"
    latest = json.loads((day / "suite-summary.json").read_text())
    assert latest["runId"] == "run-1"  # the older run, written after, did not replace the latest copies
    assert [s["runId"] for s in read_summaries(find_runs(tmp_path))] == ["run-0", "run-1"]
    assert [s["runId"] for s in read_summaries(find_runs(tmp_path, run="run-1"))] == ["run-1"]
