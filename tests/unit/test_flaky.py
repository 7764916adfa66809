"""Flaky tests (issue 21 point 3): `testing.retries` (default 1) re-runs a failing test run; one that
passes on a retry succeeds its package with a warning, and the record, the package report, the
suite summary, the build's summary and `report` list it as flaky. A test that fails every try fails
as before (naming its attempts); a build, a missing tool, a timeout or a cancelled run is never retried.

End to end (the CLI): a flaky test, the same with retries 0, a test that always fails and a build
that fails. In process: the pipeline's test phase on a real command runner, the record, the reports
and the `report` view on synthetic data."""

from __future__ import annotations

import pytest

from package_builder_dagster.discovery import config as settings  # (a TestingConfig name here would be collected as a test class)
from package_builder_dagster.discovery.code_versions import settings_fingerprint
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.execution.record import PackageRecord, parse_record
from package_builder_dagster.execution.steps import FailedAttempt, FlakyTests
from package_builder_dagster.reporting.analysis import analyze
from package_builder_dagster.reporting.reports import package_report, suite_summary

# ---- end to end --------------------------------------------------------------------------------------


# ---- in process: the test phase on a real command runner ------------------------------------------


def test_retries_is_a_setting_from_0_to_5():
    assert settings.TestingConfig().retries == 1
    for bad in (-1, 6):
        with pytest.raises(ValueError):
            settings.TestingConfig(retries=bad)
    # no part of code versions or cache keys: setting it leaves every package fresh
    fingerprints = {settings_fingerprint(BuildConfig(testing=settings.TestingConfig(retries=n))) for n in (0, 1, 5)}
    assert len(fingerprints) == 1


# ---- in process: record, reports, `report` ---------------------------------------------------------

def _flaky() -> FlakyTests:
    return FlakyTests(2, [FailedAttempt("test", 1, 1, "AssertionError: too slow", "/logs/test-test.log")], ["test"])


def test_the_record_carries_flaky_tests_and_old_records_still_read():
    outcome = PackageRecord(package="@ex/a", state="done", flaky=_flaky())
    data = outcome.close("2026-01-01T00:00:00+00:00").to_json()
    assert data["version"] == 3 and data["flaky"]["failedAttempts"][0]["error"] == "AssertionError: too slow"
    record = parse_record(data, "test")
    assert record.flaky == _flaky()
    old = {k: v for k, v in data.items() if k != "flaky"} | {"version": 1}  # written before flaky tests were recorded
    assert parse_record(old, "run r0").flaky is None
    report = package_report(record, "r1:packages", [], [])
    assert report["flakyTests"] == {"attempts": 2, "scripts": ["test"], "failedAttempts": [
        {"script": "test", "attempt": 1, "exitCode": 1, "error": "AssertionError: too slow", "log": "/logs/test-test.log"}]}


class _Log:
    def __init__(self, run_id: str):
        self.run_id, self.status, self.selection = run_id, "SUCCESS", None


def _summary(run_id: str, start: str, flaky: dict[str, int]) -> dict:
    """A run's suite summary whose packages in `flaky` needed that many failed attempts."""
    reports = []
    for name in ("@ex/a", "@ex/b", "@ex/c"):
        failed = flaky.get(name, 0)
        rec = PackageRecord(package=name, state="done", time=start, start_time=start, end_time=start,
                            flaky=FlakyTests(failed + 1, [FailedAttempt("test", i + 1, 1, f"Error: {name} #{i + 1}")
                                                          for i in range(failed)], ["test"])
                            if failed else None)
        report = package_report(rec, f"{run_id}:packages", [], [])
        report.update(runStart=start, slotWaitTime=0)
        reports.append(report)
    return suite_summary("b", _Log(run_id), reports, start, start, 2)


def test_the_summary_and_report_list_flaky_packages_with_counts():
    runs = [_summary("r1", "2026-01-01T00:00:00+00:00", {"@ex/a": 1}),
            _summary("r2", "2026-01-02T00:00:00+00:00", {"@ex/a": 2, "@ex/c": 1}),
            _summary("r3", "2026-01-03T00:00:00+00:00", {})]
    assert runs[1]["flakyPackages"] == [
        {"packageName": "@ex/a", "attempts": 3, "failedAttempts": 2, "firstError": "Error: @ex/a #1"},
        {"packageName": "@ex/c", "attempts": 2, "failedAttempts": 1, "firstError": "Error: @ex/c #1"}]
    assert runs[2]["flakyPackages"] == []
    old = {k: v for k, v in runs[0].items() if k != "flakyPackages"}  # a summary written before flaky tests were listed
    old["packageReports"] = [{k: v for k, v in r.items() if k != "flakyTests"} for r in old["packageReports"]]
    result = analyze([old, *runs[1:]])
    assert result["flakyTests"] == [
        {"packageName": "@ex/a", "runs": 1, "failedAttempts": 2, "runIds": ["r2"], "lastError": "Error: @ex/a #1"},
        {"packageName": "@ex/c", "runs": 1, "failedAttempts": 1, "runIds": ["r2"], "lastError": "Error: @ex/c #1"}]
    result = analyze(runs)
    assert [(f["packageName"], f["runs"], f["failedAttempts"]) for f in result["flakyTests"]] == [("@ex/a", 2, 3), ("@ex/c", 1, 1)]
    assert analyze(runs[2:])["flakyTests"] == []
