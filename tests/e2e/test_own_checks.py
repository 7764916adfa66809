"""Issue 21 point 1: with no `quality.checks` and no `testing.minCoveragePercent` in the config, the
gates that can fail a package are the repository's own (its `lint` script, its `typecheck` /
`check-types` / `tsc` script, the thresholds its test runner enforces); the built-in `typescript`
and `coverage` checks still run but only warn (severity WARN, a report warning, no fix loop).
`"quality": {"preset": "strict"}` (or either key set) brings back the strict gates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, gate_results, package_reports, workspace_instance
from unit.test_own_checks import SEED_STRICT, STRICT

from package_builder_dagster.examples import PackageSpec, generate


def write_config(root: Path, config: dict) -> None:
    (root / "production" / "configs").mkdir(parents=True, exist_ok=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps(config))


def set_scripts(folder: Path, **scripts: str) -> None:
    manifest = json.loads((folder / "package.json").read_text())
    manifest["scripts"].update(scripts)
    (folder / "package.json").write_text(json.dumps(manifest, indent=2))


def evaluations(root: Path) -> dict[tuple[str, str], tuple[bool, str]]:
    """(package, check) → (passed, severity) of the latest run's asset check evaluations."""
    return {key: (gate.passed, gate.severity) for key, gate in gate_results(workspace_instance(root)).items()}


# ---- the config: "not set" is not "set to the default value" -------------------------------------


# ---- cheap packages: the own typecheck script gates; the built-in checks only warn -------------

FAKE_TSC = """#!/usr/bin/env node
// tsc --noEmit over a tsconfig that includes test files the repository never type-checks
console.log("src/index.test.ts(1,22): error TS2307: Cannot find module './fixtures' or its corresponding type declarations.");
process.exit(2);
"""

TYPECHECK_FAILS = ("console.log('src/index.ts(3,7): error TS2322: Type \\'string\\' is not assignable to type \\'number\\'.'); "
                   "process.exit(2)")


def test_own_typecheck_script_fails_the_package_builtin_typescript_only_warns(tmp_path, cli):
    specs = [PackageSpec("own-fails", "core"), PackageSpec("own-passes", "core"), PackageSpec("warned", "core"),
             PackageSpec("above", "utility", ["warned"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    core = root / "packages" / "core"
    set_scripts(core / "own-fails", typecheck=f'node -e "{TYPECHECK_FAILS}"')
    set_scripts(core / "own-passes", **{"check-types": "node -e \"console.log('no errors')\""})
    (core / "warned" / "tsconfig.json").write_text('{"include": ["src"]}\n')
    tsc = root / "node_modules" / ".bin" / "tsc"
    tsc.parent.mkdir(parents=True)
    tsc.write_text(FAKE_TSC)
    tsc.chmod(0o755)
    calls = tmp_path / "agent-calls.log"
    agent = [sys.executable, str(REPO / "tests" / "agents" / "do_nothing.py"), "{prompt_file}"]
    write_config(root, {"agents": {"fix": {"command": agent, "maxAttempts": 1}}})  # no quality key: own checks

    res = cli("build", "--workspace", str(root), env={"AGENT_CALLS": str(calls)})
    assert res.code == 1, res.output
    assert "failed  @ex/own-fails in quality" in res.stdout and "typecheck" in res.stdout
    reports = package_reports(root)
    assert {n: r["status"] for n, r in reports.items()} == {
        "@ex/own-fails": "failed", "@ex/own-passes": "success", "@ex/warned": "success", "@ex/above": "success"}
    failed = reports["@ex/own-fails"]
    assert [(f["type"], f["file"], f["line"], f["rule"]) for f in failed["failures"]] == [("typescript", "src/index.ts", 3, "TS2322")]
    assert len(failed["fixAttempts"]) == 1  # an own gate goes to the fix loop
    assert failed["checks"]["typecheck"]["severity"] == "error" and failed["checks"]["typecheck"]["passed"] is False
    warned = reports["@ex/warned"]
    assert warned["fixAttempts"] == [] and warned["quality"]["passed"] is True
    assert warned["checks"]["typescript"] == {**warned["checks"]["typescript"], "passed": False, "ran": True, "severity": "warn"}
    assert any(w.startswith("typescript (warning only") and "TS2307" in w for w in warned["warnings"]), warned["warnings"]
    assert calls.read_text().count("called") == 1  # own-fails' one attempt; never the warning
    checks = evaluations(root)
    assert checks[("own-fails", "typecheck")] == (False, "ERROR")
    assert checks[("own-passes", "typecheck")] == (True, "ERROR")
    assert checks[("warned", "typescript")] == (False, "WARN")
    assert ("warned", "typecheck") not in checks  # no such script: no such gate
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert any("typescript (warning only" in w for r in summary["packageReports"] if r["packageName"] == "@ex/warned"
               for w in r["warnings"])

    write_config(root, STRICT)  # the seed's strict gates: the built-in typescript check fails `warned`
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    reports = package_reports(root)
    assert reports["@ex/warned"]["status"] == "failed" and reports["@ex/warned"]["phase"] == "quality"
    assert reports["@ex/above"]["status"] == "blocked"
    assert reports["@ex/own-fails"]["status"] == "success"  # its own script is not a gate of the strict list
    checks = evaluations(root)
    assert checks[("warned", "typescript")] == (False, "ERROR") and ("own-fails", "typecheck") not in checks


# ---- the real toolchain: the issue's "done when" ------------------------------------------------

def _issue_workspace(tmp_path: Path, toolchain: Path) -> Path:
    """`loose`: bundled without tsc, a src test file `tsc --noEmit` rejects (TS2307); `covered`: low
    coverage, no threshold; `typed`: a `typecheck` script that passes. Every own script passes."""
    specs = [PackageSpec("loose", "core"), PackageSpec("covered", "core", inject={"low-coverage"}), PackageSpec("typed", "core")]
    root = generate(tmp_path / "ws", specs, toolchain=toolchain)
    loose = root / "packages" / "core" / "loose"
    bundle = "require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/index.js','export {};')"
    set_scripts(loose, build=f'node -e "{bundle}"')
    (loose / "src" / "index.test.ts").write_text('import { fixture } from "./fixtures.js";\nexport const used = fixture;\n')
    set_scripts(root / "packages" / "core" / "typed", typecheck="tsc --noEmit -p tsconfig.json")
    return root


@pytest.mark.slow
def test_own_checks_pass_builtin_gates_warn_and_strict_fails_exactly_them(tmp_path, cli, toolchain):
    root = _issue_workspace(tmp_path, toolchain)
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    assert "3 succeeded" in res.stdout and "warning" in res.stdout
    checks = evaluations(root)
    assert checks[("loose", "typescript")] == (False, "WARN")
    assert checks[("covered", "coverage")] == (False, "WARN")
    assert checks[("typed", "typecheck")] == (True, "ERROR") and checks[("typed", "lint")] == (True, "ERROR")
    assert checks[("typed", "typescript")] == (True, "WARN") and checks[("typed", "coverage")] == (True, "WARN")
    reports = package_reports(root)
    assert all(r["status"] == "success" and r["quality"]["passed"] and r["fixAttempts"] == [] for r in reports.values())
    assert reports["@ex/covered"]["quality"]["testCoverage"] < 80
    assert reports["@ex/covered"]["checks"]["coverage"]["severity"] == "warn"
    assert any(w.startswith("coverage (warning only") and "below 80%" in w for w in reports["@ex/covered"]["warnings"])
    assert any(w.startswith("typescript (warning only") and "TS2307" in w for w in reports["@ex/loose"]["warnings"])

    write_config(root, SEED_STRICT)  # the seed's strict setup, spelled out
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 1, res.output
    reports = package_reports(root)
    assert {n: (r["status"], r["phase"]) for n, r in reports.items()} == {
        "@ex/loose": ("failed", "quality"), "@ex/covered": ("failed", "quality"), "@ex/typed": ("success", None)}
    failing = {k for k, (passed, _) in evaluations(root).items() if not passed}
    assert failing == {("loose", "typescript"), ("covered", "coverage")}
    assert all(evaluations(root)[k][1] == "ERROR" for k in failing)


COVERAGE_CONFIG = ('export default {{ test: {{ include: ["test/**/*.test.ts"], coverage: {{ provider: "v8", include: ["src/**"],'
                   ' enabled: {enabled}, thresholds: {{ lines: 90 }} }} }} }};\n')


@pytest.mark.slow
def test_the_test_runners_own_coverage_thresholds_gate(tmp_path, cli, toolchain):
    """`gated` enforces its vitest coverage thresholds in its own test run: it fails in test. `ungated`
    configures thresholds without enabling coverage: only this tool's flags would trip them, a warning."""
    specs = [PackageSpec("gated", "core", inject={"low-coverage"}), PackageSpec("ungated", "core", inject={"low-coverage"})]
    root = generate(tmp_path / "ws", specs, toolchain=toolchain)
    core = root / "packages" / "core"
    (core / "gated" / "vitest.config.mjs").write_text(COVERAGE_CONFIG.format(enabled="true"))
    (core / "ungated" / "vitest.config.mjs").write_text(COVERAGE_CONFIG.format(enabled="false"))
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 1, res.output
    reports = package_reports(root)
    assert reports["@ex/gated"]["status"] == "failed" and reports["@ex/gated"]["phase"] == "test"
    assert "threshold" in reports["@ex/gated"]["error"]
    ungated = reports["@ex/ungated"]
    assert ungated["status"] == "success" and ungated["fixAttempts"] == []
    assert any("coverage flags" in w and "threshold" in w for w in ungated["warnings"]), ungated["warnings"]
