"""Flaky tests (issue 21 point 3): `testing.retries` (default 1) re-runs a failing test run; one that
passes on a retry succeeds its package with a warning, and the record, the package report, the
suite summary, the build's summary and `report` list it as flaky. A test that fails every try fails
as before (naming its attempts); a build, a missing tool, a timeout or a cancelled run is never retried.

End to end (the CLI): a flaky test, the same with retries 0, a test that always fails and a build
that fails. In process: the pipeline's test phase on a real command runner, the record, the reports
and the `report` view on synthetic data."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from package_builder_dagster.cli.main import main
from package_builder_dagster.discovery import config as settings  # (a TestingConfig name here would be collected as a test class)
from package_builder_dagster.discovery.code_versions import settings_fingerprint
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.package_pipeline import PackagePipeline, PhaseFailed
from package_builder_dagster.execution.record import PackageRecord, parse_record
from package_builder_dagster.execution.steps import FailedAttempt, FlakyTests
from package_builder_dagster.reporting.analysis import analyze
from package_builder_dagster.reporting.reports import package_report, suite_summary

# Fails its first run (leaving a marker), passes every later one; counts its runs.
FLAKY_TEST = """\
const fs = require("fs");
fs.appendFileSync("test-runs.log", "run\\n");
if (!fs.existsSync(".flaky-marker")) {
  fs.writeFileSync(".flaky-marker", "failed once\\n");
  console.error("AssertionError: expected the reply within 50 ms, got 212 ms (timing-sensitive)");
  process.exit(1);
}
console.log("1 test passed");
"""
# Counts its runs in the file it is given, then fails.
COUNT_FAIL = """\
const fs = require("fs");
fs.appendFileSync(process.argv[2], "run\\n");
console.error(`Error: ${process.argv[3]} failed for good`);
process.exit(1);
"""


def _set_script(root: Path, short: str, category: str, script: str, command: str) -> Path:
    folder = root / "packages" / category / short
    manifest = json.loads((folder / "package.json").read_text())
    manifest["scripts"][script] = command
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def _flaky_workspace(root: Path, config: dict | None = None) -> tuple[Path, Path]:
    """@ex/a (core) with a flaky test, @ex/b (utility) depending on it; (root, a's folder)."""
    generate(root, [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"])], kind="trivial")
    (root / "scripts" / "flaky-test.js").write_text(FLAKY_TEST)
    folder = _set_script(root, "a", "core", "test", "node ../../../scripts/flaky-test.js")
    if config is not None:
        (root / "production" / "configs").mkdir(parents=True)
        (root / "production" / "configs" / "build-env.json").write_text(json.dumps(config))
    return root, folder


def _latest_summary(root: Path) -> dict:
    [path] = (root / "production" / "reports").glob("*/suite-summary.json")
    return json.loads(path.read_text())


def _logs(root: Path, short: str) -> list[str]:
    return sorted(p.name for p in (root / "production" / "logs").glob(f"*/@ex/{short}/*.log"))


# ---- end to end --------------------------------------------------------------------------------------

def test_a_test_that_fails_once_then_passes_is_flaky_and_blocks_nothing(tmp_path, cli, capsys, monkeypatch):
    root, a = _flaky_workspace(tmp_path / "ws")  # testing.retries at its default (1)
    res = cli("build", "--workspace", str(root))
    assert res.code == 0, res.output
    assert (a / "test-runs.log").read_text().count("run") == 2
    assert (root / "packages" / "utilities" / "b" / "dist" / "index.js").is_file()  # the dependent built
    assert re.search(r"^\s*flaky\b.*@ex/a.*attempt 2", res.stdout, re.M), res.stdout
    assert _logs(root, "a") == ["build-build.log", "test-test-retry1.log", "test-test.log"]

    summary = _latest_summary(root)
    assert summary["successful"] == 2 and summary["failed"] == summary["blocked"] == 0
    assert [f["packageName"] for f in summary["flakyPackages"]] == ["@ex/a"]
    assert summary["flakyPackages"][0]["attempts"] == 2
    report = next(r for r in summary["packageReports"] if r["packageName"] == "@ex/a")
    assert report["status"] == "success"
    flaky = report["flakyTests"]
    assert flaky["attempts"] == 2 and flaky["scripts"] == ["test"]
    [failed] = flaky["failedAttempts"]
    assert failed["attempt"] == 1 and failed["exitCode"] == 1 and "AssertionError" in failed["error"]
    assert failed["log"].endswith("test-test.log")
    assert any("flaky" in w for w in report["warnings"])
    assert next(r for r in summary["packageReports"] if r["packageName"] == "@ex/b")["flakyTests"] is None

    # `report` on this run's reports, in process (the CLI's own entry point, no second Dagster start-up)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["report", "--workspace", str(root)]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if "@ex/a" in ln and "flaky" in ln)
    assert "1 of 1 run" in line and "1 failed attempt" in line, text
    assert main(["report", "--workspace", str(root), "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)["flakyTests"]
    assert entry["packageName"] == "@ex/a" and entry["runs"] == 1 and entry["failedAttempts"] == 1
    assert entry["runIds"] == [summary["runId"]]


def test_without_retries_the_same_test_fails_its_package_and_blocks_the_dependent(tmp_path, cli):
    root, a = _flaky_workspace(tmp_path / "ws", {"testing": {"retries": 0}})
    res = cli("build", "--workspace", str(root))
    assert res.code == 1, res.output
    assert (a / "test-runs.log").read_text().count("run") == 1
    summary = _latest_summary(root)
    reports = {r["packageName"]: r for r in summary["packageReports"]}
    assert reports["@ex/a"]["status"] == "failed" and reports["@ex/a"]["phase"] == "test"
    assert reports["@ex/b"]["status"] == "blocked" and reports["@ex/b"]["blockedBy"] == "@ex/a"
    assert summary["flakyPackages"] == [] and reports["@ex/a"]["flakyTests"] is None
    assert "attempt" not in reports["@ex/a"]["error"]  # one try: the message of old


def test_a_test_failing_every_try_fails_after_all_attempts_and_a_build_is_never_retried(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("t", "core"), PackageSpec("c", "core"), PackageSpec("m", "core")], kind="trivial")
    (root / "scripts" / "count-fail.js").write_text(COUNT_FAIL)
    t = _set_script(root, "t", "core", "test", "node ../../../scripts/count-fail.js test-runs.log test")
    c = _set_script(root, "c", "core", "build", "node ../../../scripts/count-fail.js build-runs.log build")
    _set_script(root, "m", "core", "test", "no-such-test-tool-xyz run")  # a missing tool: never retried
    (root / "production" / "configs").mkdir(parents=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps({"testing": {"retries": 2}}))
    res = cli("build", "--workspace", str(root))
    assert res.code == 1, res.output

    assert (t / "test-runs.log").read_text().count("run") == 3  # 1 + retries
    assert _logs(root, "t") == ["build-build.log", "test-test-retry1.log", "test-test-retry2.log", "test-test.log"]
    assert (c / "build-runs.log").read_text().count("run") == 1
    assert _logs(root, "m") == ["build-build.log", "test-test.log"]
    reports = {r["packageName"]: r for r in _latest_summary(root)["packageReports"]}
    assert reports["@ex/t"]["status"] == "failed" and "all 3 attempts" in reports["@ex/t"]["error"], reports["@ex/t"]["error"]
    assert reports["@ex/c"]["status"] == "failed" and reports["@ex/c"]["phase"] == "build"
    assert reports["@ex/m"]["status"] == "failed" and "missing tool" in reports["@ex/m"]["error"]
    assert all(r["flakyTests"] is None for r in reports.values())


# ---- in process: the test phase on a real command runner ------------------------------------------

class _ShellPM:
    """Runs a package script with sh (no npm), enough for the pipeline's test phase."""

    def __init__(self, pkg: Package):
        self.pkg = pkg

    def run_script(self, script: str, args: list[str] | None = None) -> list[str]:
        return ["sh", "-c", self.pkg.scripts[script]]


def _pipeline(tmp_path: Path, test: str, retries: int = 1, timeout: int = 60) -> tuple[PackagePipeline, Package, PackageRecord]:
    folder = tmp_path / "pkg"
    folder.mkdir()
    pkg = Package("@ex/p", "1.0.0", "pkg", folder, [], {"test": test})
    config = BuildConfig(workspaceRoot=tmp_path, testing=settings.TestingConfig(retries=retries), commandTimeoutSeconds=timeout)
    pipeline = PackagePipeline(config, _ShellPM(pkg), CommandRunner(timeout), tmp_path / "logs", lambda *a: None)  # type: ignore[arg-type]
    return pipeline, pkg, PackageRecord(package=pkg.name)


def test_retries_is_a_setting_from_0_to_5():
    assert settings.TestingConfig().retries == 1
    for bad in (-1, 6):
        with pytest.raises(ValueError):
            settings.TestingConfig(retries=bad)
    # no part of code versions or cache keys: setting it leaves every package fresh
    fingerprints = {settings_fingerprint(BuildConfig(testing=settings.TestingConfig(retries=n))) for n in (0, 1, 5)}
    assert len(fingerprints) == 1


def test_a_flaky_run_is_recorded_in_process(tmp_path):
    pipeline, pkg, out = _pipeline(tmp_path, 'echo run >> runs; [ -f mark ] || { touch mark; echo "Error: flaked"; exit 3; }', retries=3)
    ok, _ = pipeline.test(pkg, out)
    assert ok is True and (pkg.dir / "runs").read_text().count("run") == 2
    assert out.flaky == FlakyTests(2, [FailedAttempt("test", 1, 3, "Error: flaked", str(tmp_path / "logs/@ex/p/test-test.log"))], ["test"])
    assert [s.script for s in out.steps] == ["test (attempt 1)", "test"] and [s.status for s in out.steps] == ["failed", "passed"]
    assert any("flaky" in w and "attempt 2" in w for w in out.warnings)


@pytest.mark.parametrize("script, error", [
    ("echo run >> runs; no-such-test-tool-xyz", "missing tool"),
    ("echo run >> runs; sleep 5; exit 1", "timed out"),
])
def test_a_missing_tool_or_a_timeout_is_not_retried(tmp_path, script, error):
    pipeline, pkg, out = _pipeline(tmp_path, script, retries=3, timeout=1)
    with pytest.raises(PhaseFailed, match=error):
        pipeline.test(pkg, out)
    assert (pkg.dir / "runs").read_text().count("run") == 1 and out.flaky is None


def test_a_cancelled_run_is_not_retried(tmp_path):
    pipeline, pkg, out = _pipeline(tmp_path, "echo run >> runs; sleep 5; exit 1", retries=3)
    threading.Timer(0.5, pipeline.runner.cancel).start()
    with pytest.raises(PhaseFailed, match="cancelled"):
        pipeline.test(pkg, out)
    assert (pkg.dir / "runs").read_text().count("run") == 1


def test_failing_every_try_names_the_attempts_and_keeps_each_log(tmp_path):
    pipeline, pkg, out = _pipeline(tmp_path, 'echo run >> runs; echo "Error: always"; exit 1', retries=2)
    with pytest.raises(PhaseFailed, match=r"failed \(exit 1\) in all 3 attempts: Error: always") as raised:
        pipeline.test(pkg, out)
    assert raised.value.phase == "test" and out.flaky is None
    assert (pkg.dir / "runs").read_text().count("run") == 3
    assert sorted(p.name for p in (tmp_path / "logs" / "@ex" / "p").iterdir()) == [
        "test-test-retry1.log", "test-test-retry2.log", "test-test.log"]


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
