"""Tasks of one graph, end to end (`package-builder build` on cheap `node` scripts that record start and end times)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import package_reports

from package_builder_dagster.examples import PackageSpec, generate

from .test_publish import publish, registry, workspace  # noqa: F401 -- `registry` is a fixture

CHAIN = [PackageSpec("base", "core"), PackageSpec("app", "utility", ["base"])]


def _events(root: Path) -> dict[tuple[str, str, str], int]:
    """(edge, step, package) → milliseconds, from the fake step's build-events.log."""
    rows = {}
    for line in (root / "build-events.log").read_text().splitlines():
        t, edge, step, name = line.split()
        rows[(edge, step, name)] = int(t)
    return rows


def _set_script(root: Path, short: str, script: str, command: str) -> None:
    manifest_path = next(root.glob(f"packages/*/{short}/package.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["scripts"][script] = command
    manifest_path.write_text(json.dumps(manifest, indent=2))


def _config(root: Path, data: dict) -> None:
    (root / "production" / "configs").mkdir(parents=True, exist_ok=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps(data))


def test_a_dependents_build_starts_before_its_dependencys_tests_end(tmp_path, cli):
    root = generate(tmp_path / "ws", CHAIN, kind="trivial")
    _set_script(root, "base", "test", "node ../../../scripts/fake-step.js test ok 1500")
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    ev = _events(root)
    assert ev[("end", "build", "@ex/base")] <= ev[("start", "build", "@ex/app")] < ev[("end", "test", "@ex/base")]
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert summary["priority"] == "critical-path with default weights"
    assert summary["overheadPerPackage"] is not None and summary["lowerBound"] > 1500

    again = cli("build", "--workspace", str(root), "--concurrency", "2", "--cache", "off")  # now there is history
    assert again.code == 0, again.output
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert summary["priority"] == "critical-path from history of 2 packages"


def test_a_dependencys_failing_test_blocks_the_dependent_and_nothing_is_published(tmp_path, cli, registry):  # noqa: F811
    specs = [PackageSpec("base", "core", [], {"test-fail"}), PackageSpec("app", "utility", ["base"]), PackageSpec("other", "validator")]
    root = workspace(tmp_path, specs)
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1, res.output
    reports = package_reports(root)
    assert reports["@ex/base"]["status"] == "failed" and reports["@ex/base"]["phase"] == "test"
    assert reports["@ex/app"]["status"] == "blocked" and reports["@ex/app"]["blockedBy"] == "@ex/base"
    assert registry.versions("@ex/base") == [] and registry.versions("@ex/app") == []
    assert registry.versions("@ex/other") == ["1.0.0"]  # independent of the failure


def _undeclared(tmp_path: Path, tests_after: str | None) -> Path:
    """`lib`'s test requires `@ex/user` (built after lib: user depends on lib), which lib does not declare."""
    specs = [PackageSpec("lib", "core"), PackageSpec("user", "utility", ["lib"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    for spec in specs:  # what an install links: node_modules/@ex/<name> → the package folder
        link = root / "node_modules" / "@ex" / spec.short
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(next(root.glob(f"packages/*/{spec.short}")), link)
    _set_script(root, "lib", "test", "node -e \"require('@ex/user')\"")
    _set_script(root, "user", "build", "node ../../../scripts/fake-step.js build ok 800 ../../core/lib")
    _config(root, {"scheduling": {"testsAfter": tests_after}} if tests_after else {})
    return root


def test_all_builds_lets_a_test_import_an_undeclared_workspace_package(tmp_path, cli):
    root = _undeclared(tmp_path, "all-builds")
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    assert {n: r["status"] for n, r in package_reports(root).items()} == {"@ex/lib": "success", "@ex/user": "success"}


def test_by_default_the_same_test_fails_before_the_other_package_is_built(tmp_path, cli):
    root = _undeclared(tmp_path, None)
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 1, res.output
    reports = package_reports(root)
    assert reports["@ex/lib"]["status"] == "failed" and reports["@ex/lib"]["phase"] == "test"
    assert reports["@ex/user"]["status"] == "blocked"
