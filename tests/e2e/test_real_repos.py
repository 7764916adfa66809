"""What real monorepos do that generated ones did not: packages without a coverage provider, test
runners that reject this tool's flags, undeclared workspace imports, linters other than ESLint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import gate_results, package_reports, workspace_instance

from package_builder_dagster.examples import PackageSpec, generate

FAKE_VITEST = """#!/usr/bin/env node
// A vitest that cannot load its coverage provider (as with a provider of another vitest version).
if (process.argv.some((a) => a.startsWith("--coverage"))) {
  console.error(" MISSING DEPENDENCY  Cannot find dependency '@vitest/coverage-v8'");
  process.exit(1);
}
console.log(" Test Files  1 passed (1)");
"""


def _set_scripts(folder: Path, **scripts: str) -> None:
    manifest = json.loads((folder / "package.json").read_text())
    manifest["scripts"].update(scripts)
    (folder / "package.json").write_text(json.dumps(manifest, indent=2))


@pytest.mark.slow
def test_coverage_only_where_a_provider_resolves(tmp_path, cli, toolchain):
    """A vitest package without a coverage provider passes with coverage "not measured"; one with a
    provider (in its own node_modules) still gets its figure."""
    root = generate(tmp_path / "ws", [PackageSpec("bare", "core"), PackageSpec("measured", "core")], toolchain=toolchain)
    scoped = root / "node_modules" / "@vitest"
    scoped.unlink()  # the shared toolchain link: replace it with everything but the providers
    scoped.mkdir()
    for entry in (toolchain / "node_modules" / "@vitest").iterdir():
        if not entry.name.startswith("coverage-"):
            (scoped / entry.name).symlink_to(entry.resolve())
    own = root / "packages" / "core" / "measured" / "node_modules" / "@vitest"
    own.mkdir(parents=True)
    (own / "coverage-v8").symlink_to((toolchain / "node_modules" / "@vitest" / "coverage-v8").resolve())

    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    reports = package_reports(root)
    assert reports["@ex/bare"]["quality"]["testCoverage"] is None
    assert any("not measured: no coverage provider installed" in w for w in reports["@ex/bare"]["warnings"])
    assert reports["@ex/measured"]["quality"]["testCoverage"] == 100.0

    instance = workspace_instance(root)
    coverage = gate_results(instance)[("bare", "coverage")]
    assert coverage.passed and coverage.severity == "WARN"
    assert coverage.description.startswith("not measured: no coverage provider installed")


def test_flags_the_runner_rejects_are_dropped_for_a_second_run(tmp_path, cli):
    """A test run that fails only because of this tool's coverage flags runs again without them;
    only that second run counts, and a warning says so."""
    root = generate(tmp_path / "ws", [PackageSpec("p", None)], kind="trivial")
    pkg = root / "packages" / "p"
    _set_scripts(pkg, test="vitest run")
    (pkg / "node_modules" / ".bin").mkdir(parents=True)
    (pkg / "node_modules" / "@vitest" / "coverage-v8").mkdir(parents=True)
    (pkg / "node_modules" / "@vitest" / "coverage-v8" / "package.json").write_text('{"name": "@vitest/coverage-v8"}')
    fake = pkg / "node_modules" / ".bin" / "vitest"
    fake.write_text(FAKE_VITEST)
    fake.chmod(0o755)
    res = cli("build", "--workspace", str(root))
    assert res.code == 0, res.output
    report = package_reports(root)["@ex/p"]
    assert report["status"] == "success"
    assert any("coverage flags" in w and "MISSING DEPENDENCY" in w for w in report["warnings"])
    logs = sorted(p.name for p in (root / "production" / "logs").glob("*/@ex/p/test-*.log"))
    assert logs == ["test-test-without-coverage.log", "test-test.log"]


def _undeclared_workspace(tmp_path: Path) -> Path:
    """core-a's test loads util-b (which depends on core-a) through vi.importActual, undeclared."""
    root = generate(tmp_path / "ws", [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]),
                                      PackageSpec("leaf-c", "ui", ["util-b"])], kind="trivial")
    core = root / "packages" / "core" / "core-a"
    (core / "test").mkdir()
    (core / "test" / "a.test.ts").write_text(
        '// import { b } from "@ex/leaf-c";  (a comment: not a finding)\n'
        'const b = await vi.importActual<typeof import("./types")>(\n  "@ex/util-b"\n);\n')
    failing = "console.error(\"Error: Cannot find module '@ex/util-b' imported from test/a.test.ts\"); process.exit(1)"
    _set_scripts(core, test=f"node -e '{failing}'")
    return root


def test_undeclared_workspace_imports_are_found_and_explained(tmp_path, cli):
    root = _undeclared_workspace(tmp_path)
    res = cli("graph", "--workspace", str(root), "--json")
    assert res.code == 0, res.output
    data = json.loads(res.stdout)
    assert [w for w in data["warnings"] if "undeclared" in w] == [
        "undeclared import: @ex/core-a imports @ex/util-b (packages/core/core-a/test/a.test.ts:3, vi.importActual) "
        "but its package.json does not declare it"]
    core = next(p for p in data["packages"] if p["name"] == "@ex/core-a")
    assert core["undeclaredImports"] == [
        {"imported": "@ex/util-b", "file": "packages/core/core-a/test/a.test.ts", "line": 3, "via": "vi.importActual"}]

    config = tmp_path / "build-env.json"
    config.write_text(json.dumps({"undeclaredDependencies": "error"}))
    res = cli("graph", "--workspace", str(root), "--config", str(config))
    assert res.code == 2 and "packages/core/core-a/test/a.test.ts:3" in res.stderr, res.output

    config.write_text(json.dumps({"undeclaredDependencies": "order"}))
    res = cli("graph", "--workspace", str(root), "--config", str(config), "--json")
    assert res.code == 0, res.output
    warnings = json.loads(res.stdout)["warnings"]
    assert any("would close the cycle @ex/core-a -> @ex/util-b -> @ex/core-a" in w for w in warnings), warnings

    # The test fails resolving the undeclared package: the failure says why, and what to do.
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    report = package_reports(root)["@ex/core-a"]
    assert report["phase"] == "test" and "@ex/core-a imports @ex/util-b (packages/core/core-a/test/a.test.ts:3" in report["error"]
    assert "undeclaredDependencies" in report["error"]


def test_undeclared_import_without_a_cycle_becomes_a_build_order_edge(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("val-a", "validator"), PackageSpec("core-b", "core")], kind="trivial")
    (root / "packages" / "core" / "core-b" / "index.test.js").write_text('const a = require("@ex/val-a/dist/index.js");\n')
    config = tmp_path / "build-env.json"
    config.write_text(json.dumps({"undeclaredDependencies": "order"}))
    res = cli("graph", "--workspace", str(root), "--config", str(config), "--json")
    data = json.loads(res.stdout)
    assert next(p for p in data["packages"] if p["name"] == "@ex/core-b")["dependencies"] == ["@ex/val-a"]
    assert any(w.startswith("undeclared import ordered as a dependency: @ex/core-b imports @ex/val-a") for w in data["warnings"])


def test_any_linters_findings_are_counted(tmp_path, cli):
    """A lint script running a non-ESLint linter (buf's real output, replayed) that exits non-zero."""
    captured = Path(__file__).resolve().parents[1] / "data" / "buf-lint.txt"
    root = generate(tmp_path / "ws", [PackageSpec("protos", None)], kind="trivial")
    pkg = root / "packages" / "protos"
    (pkg / "lint.js").write_text(f"process.stdout.write(require('fs').readFileSync({json.dumps(str(captured))}, 'utf8'));\n"
                                 "process.exit(100);\n")
    _set_scripts(pkg, lint="node lint.js")
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    report = package_reports(root)["@ex/protos"]
    lint = [f for f in report["failures"] if f["type"] == "lint"]
    assert len(lint) == 11 and report["quality"]["lintScore"] == 0.0
    assert lint[0]["file"].endswith(".proto") and lint[0]["line"] > 0


def test_a_program_the_script_cannot_find_is_a_missing_tool_not_a_lint_error(tmp_path, cli):
    """valibot's `lint` runs deno first; where deno is not installed that is the environment's fault:
    no lint count, no fix attempt (the built-in eslint fixer would append --fix to the chain)."""
    root = generate(tmp_path / "ws", [PackageSpec("p", None)], kind="trivial")
    _set_scripts(root / "packages" / "p", lint="no-such-linter-xyz check && eslint src")
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    report = package_reports(root)["@ex/p"]
    assert report["phase"] == "quality" and report["error"].startswith("missing tool: no-such-linter-xyz is not installed")
    assert "not found" in report["error"] and report["fixAttempts"] == [] and report["quality"]["lintScore"] is None
