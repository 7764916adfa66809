"""Reports derived from the event log: the seed's fields, totals, waits, one folder per run, red runs
from the CLI and from Dagster's own run machinery (the run-status sensor), `report`, the timeline."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import REPO, git_commit_all, workspace_instance

from package_builder_dagster.examples import PackageSpec, generate

AGENT = [sys.executable, str(REPO / "tests" / "agents" / "fix_code.py"), "{prompt_file}", "{package_dir}"]
SPECS = [
    PackageSpec("clean-a", "core"),
    PackageSpec("fixed-b", "core", inject={"build-fail"}),  # the scripted agent repairs it
    PackageSpec("failing-c", "utility", ["clean-a"], inject={"test-fail"}),  # no agent repairs it
    PackageSpec("blocked-d", "service", ["failing-c", "fixed-b"]),
    PackageSpec("top-e", "ui", ["fixed-b", "clean-a"]),
]
PACKAGE_FIELDS = {"packageName", "workflowId", "startTime", "endTime", "duration", "buildMetrics", "quality",
                  "fixAttempts", "status", "error", "dependencies", "waitedFor"}
SUMMARY_FIELDS = {"buildId", "timestamp", "totalPackages", "successful", "failed", "totalDuration", "totalFixAttempts",
                  "slowestPackages", "mostFixAttempts", "totalWaitTime", "packageReports",
                  "blocked", "runId", "selection", "criticalPath", "slotUtilization"}


def ms(a: str, b: str) -> int:
    return int((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000)


@pytest.fixture
def red_workspace(tmp_path):
    root = generate(tmp_path / "ws", SPECS, kind="trivial")
    (root / "production" / "configs").mkdir(parents=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps({"agents": {"fix": {"command": AGENT, "maxAttempts": 2}}}))
    return git_commit_all(root)  # a git work tree: build logs that git ignores are never taken for an agent's edits


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "production" / "reports").glob("*/runs/*/suite-summary.json"))


def test_reports_of_a_red_run_hold_the_seeds_fields_and_add_up(red_workspace, cli):
    root = red_workspace
    res = cli("build", "--workspace", str(root), "--concurrency", "1")
    assert res.code == 1, res.output
    [run_dir] = run_dirs(root)
    summary = json.loads((run_dir / "suite-summary.json").read_text())
    assert SUMMARY_FIELDS <= set(summary)
    reports = {r["packageName"]: r for r in summary["packageReports"]}
    for report in reports.values():
        assert PACKAGE_FIELDS <= set(report), report["packageName"]
        assert set(report["buildMetrics"]) == {"buildTime", "testTime", "qualityCheckTime", "publishTime"}
        assert set(report["quality"]) == {"lintScore", "testCoverage", "typeScriptErrors", "passed"}
        assert json.loads((run_dir / "@ex" / f"{report['packageName'].split('/')[1]}.json").read_text()) == report
    assert {n: r["status"] for n, r in reports.items()} == {
        "@ex/clean-a": "success", "@ex/fixed-b": "success", "@ex/failing-c": "failed",
        "@ex/blocked-d": "blocked", "@ex/top-e": "success",
    }
    assert summary["successful"] + summary["failed"] + summary["blocked"] == summary["totalPackages"] == 5
    assert reports["@ex/blocked-d"]["blockedBy"] == "@ex/failing-c"
    assert [a["fixed"] for a in reports["@ex/fixed-b"]["fixAttempts"]] == [True]
    assert len(reports["@ex/failing-c"]["fixAttempts"]) == 2
    assert summary["totalFixAttempts"] == 3
    # a package waits for all its dependencies at once: its wait is its longest edge's, and the total is
    # a sum over packages (issue 20.9: per-edge sums were fifty times the wall time on a real repository)
    assert all(r["dependencyWait"] == max([w["waitTime"] for w in r["waitedFor"]], default=0) for r in reports.values())
    assert summary["totalWaitTime"] == sum(r["dependencyWait"] for r in reports.values())
    assert summary["waitingPackages"] == sum(1 for r in reports.values() if r["dependencyWait"])
    wall = summary["totalDuration"]
    for r in reports.values():  # a package's own figures are never longer than the run
        assert r["duration"] <= r["span"] <= wall and r["dependencyWait"] <= wall, r["packageName"]

    # waitTime: from the run's start until the dependency's build ended (what a dependent's build waits
    # for), never past the package's own start; the slot wait: from ready to started.
    for report in reports.values():
        for wait in report["waitedFor"]:
            dep = reports[wait["packageName"]]
            ready = max((ph["end"] for ph in dep["phases"] if ph["phase"] == "building"), default=dep["endTime"])
            if report["startTime"] and report["startTime"] < ready:
                ready = report["startTime"]
            assert abs(wait["waitTime"] - max(0, ms(summary["startTime"], ready))) <= 1
        if report["status"] != "blocked":
            # a build is ready once its dependencies' builds ended (the last building phase of each)
            built = {d: max((ph["end"] for ph in reports[d]["phases"] if ph["phase"] == "building"), default=reports[d]["endTime"])
                     for d in report["dependencies"]}
            ready_by_deps = max(list(built.values()) or [summary["startTime"]])
            ready = datetime.fromisoformat(report["runStart"]).timestamp() - report["slotWaitTime"] / 1000
            assert ready >= datetime.fromisoformat(ready_by_deps).timestamp() - 0.5
    assert any(r["slotWaitTime"] > 0 for r in reports.values())  # one slot: a package ready with another waited for it
    assert summary["criticalPath"] and summary["criticalPath"][-1] == max(
        (r for r in reports.values() if r["status"] != "blocked"), key=lambda r: r["endTime"])["packageName"]
    assert 0 < summary["slotUtilization"] <= 1

    # A second run the same day keeps the first run's folder; the date-level copies are the latest.
    res = cli("build", "--workspace", str(root), "--select", "@ex/clean-a")
    assert res.code == 0, res.output
    first, second = sorted(run_dirs(root), key=lambda d: json.loads((d / "suite-summary.json").read_text())["startTime"])
    assert first == run_dir and second != run_dir
    latest = json.loads((run_dir.parent.parent / "suite-summary.json").read_text())
    assert latest["runId"] == second.name and latest["totalPackages"] == 1

    # `report` reads them back.
    out = cli("report", "--workspace", str(root), "--run", run_dir.name, "--json")
    assert out.code == 0, out.output
    analysis = json.loads(out.stdout)
    assert analysis["runs"][0]["runId"] == run_dir.name
    assert dict(analysis["failureTypes"])["test"] == 1 and dict(analysis["failureTypes"])["build"] == 1
    assert analysis["agents"]["packagesFixed"] == 1 and analysis["agents"]["attempts"] == 3
    text = cli("report", "--workspace", str(root), "--date", run_dir.parent.parent.name)
    assert text.code == 0 and "2 run(s)" in text.stdout and "slowest packages" in text.stdout
    none = cli("report", "--workspace", str(root), "--date", "1999-01-01")
    assert none.code == 2 and "no report to read" in none.stderr


def test_run_started_through_dagster_gets_its_reports_from_the_sensor(red_workspace, monkeypatch):
    import dagster as dg

    from package_builder_dagster.discovery.config import load_config
    from package_builder_dagster.orchestration import definitions
    from package_builder_dagster.orchestration.instance import prepare_home

    root = red_workspace
    monkeypatch.setenv("PACKAGE_BUILDER_WORKSPACE", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # prepare_home sets it: restored after the test
    home = prepare_home(load_config(workspace=root))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = workspace_instance(root)
    result = dg.execute_job(dg.reconstructable(definitions.package_job), instance, raise_on_error=False)
    assert not result.success
    assert run_dirs(root) == []  # a red run: COMPLETE was skipped, so nothing wrote reports yet

    defs = definitions.load_from_env()
    sensor = defs.get_sensor_def("package_builder_reports_on_failure")
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE" or e.event_type_value == "RUN_FAILURE")
    with dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_instance=instance, dagster_run=run,
                                            dagster_event=failure) as context:
        sensor(context)
    [run_dir] = run_dirs(root)
    summary = json.loads((run_dir / "suite-summary.json").read_text())
    assert summary["runId"] == result.run_id and summary["runStatus"] == "FAILURE"
    assert (summary["successful"], summary["failed"], summary["blocked"]) == (3, 1, 1)


def test_timeline_has_a_bar_per_package_and_marks_the_critical_path(red_workspace, cli, tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    root = red_workspace
    assert cli("build", "--workspace", str(root)).code == 1
    [run_dir] = run_dirs(root)
    summary = json.loads((run_dir / "suite-summary.json").read_text())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto((run_dir / "timeline.html").as_uri())
        bars = page.eval_on_selector_all("g.bar", "els => els.map(e => [e.dataset.package, e.getAttribute('class')])")
        critical = page.eval_on_selector_all("g.bar.critical", "els => els.map(e => e.dataset.package)")
        widths = page.eval_on_selector_all("g.bar:not(.blocked) rect.outline", "els => els.map(e => e.getBoundingClientRect().width)")
        page.screenshot(path=str(tmp_path / "timeline.png"))
        browser.close()
    assert sorted(name for name, _ in bars) == sorted(f"@ex/{s.short}" for s in SPECS)
    assert dict(bars)["@ex/blocked-d"].split() == ["bar", "blocked"]
    assert "failed" in dict(bars)["@ex/failing-c"].split()
    assert sorted(critical) == sorted(summary["criticalPath"]) and critical
    assert all(w > 0 for w in widths)
    assert os.path.getsize(tmp_path / "timeline.png") > 10_000
