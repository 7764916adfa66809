"""Flaky tests (issue 21 point 3): `testing.retries` (default 1) re-runs a failing test run; one that
passes on a retry succeeds its package with a warning, and the record, the package report, the
suite summary, the build's summary and `report` list it as flaky. A test that fails every try fails
as before (naming its attempts); a build, a missing tool, a timeout or a cancelled run is never retried.

End to end (the CLI): a flaky test, the same with retries 0, a test that always fails and a build
that fails. In process: the pipeline's test phase on a real command runner, the record, the reports
and the `report` view on synthetic data."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from package_builder_dagster.discovery import config as settings  # (a TestingConfig name here would be collected as a test class)
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.package_pipeline import PackagePipeline, PhaseFailed
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.steps import FailedAttempt, FlakyTests

# ---- end to end --------------------------------------------------------------------------------------


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
