"""The real toolchain (tsc, vitest with v8 coverage, eslint) on generated TypeScript monorepos."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from conftest import gate_results, package_reports, workspace_instance

from package_builder_dagster.examples import PackageSpec, example_suite, generate

pytestmark = pytest.mark.slow


def test_clean_typescript_build(tmp_path, cli, toolchain):
    root = generate(tmp_path / "ws", example_suite(), toolchain=toolchain)
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    assert "8 succeeded" in res.stdout
    for pkg in ("validators/validate-email", "suites/example-suite"):
        assert (root / "packages" / pkg / "dist" / "index.d.ts").is_file()
    reports = package_reports(root)
    assert all(r["quality"]["testCoverage"] == 100.0 for r in reports.values())
    assert all(r["quality"]["typeScriptErrors"] == 0 and r["quality"]["lintScore"] == 100.0 for r in reports.values())
    instance = workspace_instance(root)
    event = instance.get_latest_materialization_event(dg.AssetKey(["ex", "notifier"]))
    meta = event.asset_materialization.metadata
    assert meta["coverage_lines_pct"].value == 100.0 and meta["typescript_errors"].value == 0
    assert meta["build_ms"].value > 0 and meta["test_ms"].value > 0


def test_injected_failures_are_typed_and_isolated(tmp_path, cli, toolchain):
    specs = [
        PackageSpec("base", "core"),
        PackageSpec("typed", "utility", ["base"], inject={"type-error"}),
        PackageSpec("tested", "utility", ["base"], inject={"failing-test"}),
        PackageSpec("linted", "utility", ["base"], inject={"lint-error"}),
        PackageSpec("covered", "utility", ["base"], inject={"low-coverage"}),
        PackageSpec("clean", "utility", ["base"]),
        PackageSpec("nontsc", "utility", ["base"], inject={"type-error"}),
        PackageSpec("top", "service", ["typed", "clean"]),
    ]
    root = generate(tmp_path / "ws", specs, toolchain=toolchain)
    # a build that is not tsc: the typescript check runs `tsc --noEmit` instead
    manifest_path = root / "packages" / "utilities" / "nontsc" / "package.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["scripts"]["build"] = ("node -e \"require('fs').mkdirSync('dist',{recursive:true});"
                                    "require('fs').writeFileSync('dist/index.js','export {};')\"")
    manifest_path.write_text(json.dumps(manifest))
    # the strict gates (the built-in typescript and coverage checks fail packages): issue 21 made them opt-in
    (root / "production" / "configs").mkdir(parents=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps({"quality": {"preset": "strict"}}))
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 1, res.output
    out = res.stdout
    assert "failed  @ex/typed in build" in out and "TS2322" in out
    assert "failed  @ex/tested in test" in out
    assert "failed  @ex/linted in quality" in out and "lint" in out
    assert "failed  @ex/covered in quality" in out and "coverage" in out
    assert "blocked @ex/top by @ex/typed" in out
    assert "failed  @ex/nontsc in quality" in out and "typescript: 1 error(s)" in out
    reports = package_reports(root)
    assert reports["@ex/clean"]["status"] == "success" and reports["@ex/base"]["status"] == "success"
    assert reports["@ex/typed"]["quality"]["typeScriptErrors"] == 1
    assert reports["@ex/linted"]["quality"]["lintScore"] < 100
    assert reports["@ex/covered"]["quality"]["testCoverage"] < 80
    assert reports["@ex/top"]["status"] == "blocked"

    instance = workspace_instance(root)
    checks = {key: gate.passed for key, gate in gate_results(instance).items()}
    assert checks[("linted", "lint")] is False and checks[("linted", "typescript")] is True
    assert checks[("covered", "coverage")] is False and checks[("clean", "coverage")] is True
    assert checks[("nontsc", "typescript")] is False and checks[("clean", "typescript")] is True
    assert instance.get_latest_materialization_event(dg.AssetKey(["ex", "linted"])) is None
