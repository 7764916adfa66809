"""A build of a workspace with turbo.jsonc runs the (package, task) pairs turbo lists, respects every
edge turbo lists (times recorded by the scripts themselves), never restores a `cache: false` task,
and fails a package whose task beyond the phases fails (issue 24)."""

from __future__ import annotations

import json
from pathlib import Path

from turbo_workspace import TURBO_JSONC, make_turbo_workspace, turbo_dry, turbo_runs


def package_reports(root: Path) -> dict[str, dict]:
    """The latest package reports of the workspace (unscoped names), by package name."""
    return {p.stem: json.loads(p.read_text()) for p in (root / "production" / "reports").glob("*/tt-*.json")}


def _times(root: Path) -> dict[tuple[str, str], dict[str, int]]:
    return {tuple(f.stem.split("#", 1)): json.loads(f.read_text()) for f in (root / "times").glob("*.json")}


def test_turbo_tasks_run_in_turbos_order_and_cache_false_is_never_restored(tmp_path, toolchain, cli):
    root = make_turbo_workspace(tmp_path / "ws", TURBO_JSONC.replace('"lint": {}', '"lint": {"cache": false}'))
    runs = turbo_runs(turbo_dry(root, toolchain))
    slow = {"TT_SLOW": "tt-gen#bundle,tt-gen#types"}  # the other packages' tasks that wait for them would overtake them
    result = cli("build", "--workspace", str(root), "--concurrency", "3", env=slow)
    assert result.code == 0, result.output
    times = _times(root)
    assert set(times) == set(runs)  # exactly the pairs turbo runs: tasks beyond the phases too, no others
    for node, deps in runs.items():
        for dep in deps & set(runs):
            assert times[node]["start"] >= times[dep]["end"], f"{node} started before {dep} ended"
    phases = {ph.get("script"): ph["phase"] for ph in package_reports(root)["tt-gen"]["phases"]}
    assert phases["gen"] == "building" and phases["bundle"] == phases["types"] == "task"  # shown in its timeline

    second = cli("build", "--workspace", str(root), "--concurrency", "3", env=slow)
    assert second.code == 0, second.output
    again = _times(root)
    rerun = {pkg for (pkg, _), t in again.items() if t != times[(pkg, _)]}
    assert rerun == {"tt-gen", "tt-app"}  # the packages whose lint is `cache: false` ran again (tt-leaf#lint is not)
    reports = package_reports(root)
    assert reports["tt-core"]["cache"]["hit"] and not reports["tt-gen"]["cache"]["hit"]
    assert "cache: false" in " ".join(reports["tt-gen"]["warnings"])


def test_a_failed_task_beyond_the_phases_fails_its_package(tmp_path, toolchain, cli):
    root = make_turbo_workspace(tmp_path / "ws")
    result = cli("build", "--workspace", str(root), "--concurrency", "3", env={"FAIL_TASK": "tt-gen#bundle"})
    assert result.code == 1, result.output
    reports = package_reports(root)
    assert reports["tt-gen"]["status"] == "failed" and "bundle" in reports["tt-gen"]["error"]
    assert reports["tt-gen"]["cache"]["stored"] is False  # a failed package is not cached
    assert {n for n, r in reports.items() if r["status"] == "blocked"} == {"tt-core", "tt-app", "tt-esm", "tt-leaf"}
