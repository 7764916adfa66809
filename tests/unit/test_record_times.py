"""A record's times, in process: its commands' time is the union of their intervals (a package's tests and
checks overlap), its span runs from its first task to its end, and a package that never ran gets a record
that says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from package_builder_dagster.execution.record import PackageRecord, blocked_record, busy_ms
from package_builder_dagster.execution.steps import StepRun

T0 = datetime(2026, 5, 6, 7, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def step(phase: str, start: float | None, seconds: float, status: str = "passed") -> StepRun:
    return StepRun(phase, f"npm run {phase}", status, int(seconds * 1000), start=at(start) if start is not None else None)


def test_commands_time_counts_overlaps_once_and_skips_what_did_not_run():
    steps = [step("build", 0, 2), step("test", 2, 3), step("quality", 2.5, 1), step("lint", 4, 3, "failed"),  # 0–2, 2–7
             step("publish", 10, 1), step("test", 8, 5, "not-run"), step("build", 20, 9, "restored"), step("docs", None, 4)]
    assert busy_ms(steps) == 2000 + 5000 + 1000
    assert busy_ms([]) == 0
    assert busy_ms([step("b", 0, 1), step("c", 5, 1)]) == 2000  # a gap is not counted


def test_closing_a_record_sets_its_span_and_commands_time_and_keeps_an_earlier_end():
    record = PackageRecord(package="@ex/a", state="done", start_time=at(0), steps=[step("build", 1, 2), step("test", 3, 2),
                                                                                   step("quality", 3, 4)])
    record.outputs = ["dist/index.js", "dist/index.d.ts"]
    record.close(at(9))
    assert (record.time, record.end_time, record.span_ms, record.duration_ms, record.outputs_count) == (at(9), at(9), 9000, 6000, 2)
    record.close(at(12))  # a second close (the run's end) keeps the package's own end
    assert record.end_time == at(9) and record.span_ms == 9000
    restored = PackageRecord(package="@ex/b", state="done").close(at(4))  # never started a task: it starts where it ends
    assert (restored.start_time, restored.span_ms, restored.duration_ms) == (at(4), 0, 0)


def test_a_package_that_never_ran_is_blocked_by_its_dependency_or_failed_when_the_run_ended():
    blocked = blocked_record("@ex/b", at(5), "@ex/a", "blocked: dependency @ex/a failed")
    assert (blocked.state, blocked.status, blocked.phase, blocked.blocked_by, blocked.ok) == ("blocked", "blocked", "blocked", "@ex/a", False)
    unfinished = blocked_record("@ex/c", at(5), None, "not finished: the run ended before this package did")
    assert (unfinished.state, unfinished.phase, unfinished.blocked_by) == ("failed", None, None)
    assert PackageRecord(package="@ex/d", state="done").status == "success" and PackageRecord(package="@ex/e").status == "pending"
