"""The typed package record: one model for the writer and every reader, versioned, loud on bad data,
stored as Dagster structured events (materialization metadata, or an observation for a failure)."""

from __future__ import annotations

import dagster as dg
import pytest

from package_builder_dagster.errors import RecordError
from package_builder_dagster.execution.output_parsers import Failure
from package_builder_dagster.execution.record import (
    CheckResult,
    PackageRecord,
    cache_view,
    check_result,
    parse_record,
    restore_cached,
)


def test_a_record_round_trips_and_a_bad_one_fails_loudly():
    outcome = PackageRecord(package="@ex/a", state="failed", phase="quality", error="lint failed", error_detail="TAIL",
                            checks={"lint": check_result("lint", False, True, "1 lint error(s)", {"output_tail": "TAIL", "errors": 1})},
                            failures=[Failure("lint", "unused", "src/a.ts", 3, "no-unused-vars", "run lint", "TAIL")])
    data = outcome.close("2026-01-01T00:00:00+00:00").to_json()
    assert "TAIL" not in str(data)  # output tails stay in this run (reports, logs), never in the stored record
    record = parse_record(data, "test")
    assert record.status == "failed" and record.checks["lint"].ran and record.failures[0].output_tail is None
    assert record.checks["lint"].metadata == {"errors": 1} and record.time == "2026-01-01T00:00:00+00:00"
    renamed = {**data, "lintErrors": data.pop("lint_errors")}  # a field renamed by a writer of another version
    with pytest.raises(RecordError, match="lintErrors"):
        parse_record(renamed, "run r1")
    with pytest.raises(RecordError, match="version"):
        parse_record({**data, "version": 4}, "run r1")  # a version this one does not know


def test_older_records_still_read():
    v2 = {"version": 2, "package": "@ex/a", "state": "done", "time": "t", "checks": {"lint": {"passed": True, "ran": True,
                                                                                           "description": "0 errors"}}}
    record = parse_record(v2, "test")
    assert record.checks["lint"].name == "lint" and record.checks["lint"].metadata == {}


def test_the_cache_manifest_is_a_view_of_the_record(tmp_path):
    from package_builder_dagster.execution.steps import StepRun

    built = PackageRecord(package="@ex/a", state="done", coverage={"lines": 91.0}, lint_errors=0, tests_passed=True,
                          checks={"lint": check_result("lint", True, True, "0 errors", {"errors": 0, "log": "/x/lint.log"})},
                          steps=[StepRun("build", "build", "passed", 120, str(tmp_path / "build-build.log"), 0, "2026-01-01T00:00:00+00:00")])
    view = cache_view(built, ["a warning"])
    assert view["steps"][0]["log"] == "build-build.log" and view["warnings"] == ["a warning"]
    restored = PackageRecord(package="@ex/a")
    restore_cached(restored, view, {"build-build.log": tmp_path / "replayed.log"})
    assert restored.coverage == {"lines": 91.0} and restored.tests_passed and restored.warnings == ["a warning"]
    assert restored.checks["lint"].description == "from cache: 0 errors" and restored.checks["lint"].metadata["from_cache"]
    assert restored.steps[0].status == "restored" and restored.steps[0].log == str(tmp_path / "replayed.log")
    assert restored.timings["build"] == 0


def test_gates_evaluated_where_they_ran_and_carried_in_the_materialization_of_a_restore(tmp_path):
    from package_builder_dagster.orchestration.assets import gates_events, materialize_metadata

    key = dg.AssetKey(["ex", "a"])
    built = PackageRecord(package="@ex/a", checks={
        "lint": CheckResult(name="lint", passed=False, ran=True, description="2 errors", warning_only=True),
        "typescript": CheckResult(name="typescript", passed=True, ran=True, description="no errors"),
    })
    restored = PackageRecord(package="@ex/a")
    restore_cached(restored, cache_view(built, []), {})

    # a CLI run plans no check: one evaluation where the gates ran, none for a restore
    [evaluation] = gates_events(key, built, planned=False)
    assert isinstance(evaluation, dg.AssetCheckEvaluation) and evaluation.check_name == "quality_gates"
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert list(gates_events(key, restored, planned=False)) == []
    # a run that planned the check (from the UI) gets its result, restored or not
    [result] = gates_events(key, restored, planned=True)
    assert isinstance(result, dg.AssetCheckResult) and result.passed is False

    # the restored materialization shows the gates' recorded results, a failed gate first on the line
    line = materialize_metadata(restored, "npm", "1.0.0")["quality_gates"]
    assert line.startswith("failed (warning only) (recorded when the outputs were built; restored from the cache): "), line
    assert line.endswith("lint failed (warning only); typescript passed"), line
    assert materialize_metadata(built, "npm", "1.0.0")["quality_gates"] == \
        "failed (warning only): lint failed (warning only); typescript passed"
