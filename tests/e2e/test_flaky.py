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
from pathlib import Path

from package_builder_dagster.cli.main import main
from package_builder_dagster.examples import PackageSpec, generate

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


# ---- in process: record, reports, `report` ---------------------------------------------------------
