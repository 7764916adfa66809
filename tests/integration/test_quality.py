"""Configurable quality gates: parsers on output captured from the real tools, a team's own script,
per-package overrides, failOnError, and each check as its own Dagster asset check."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.execution.output_parsers import parse_output


@pytest.fixture(scope="module")
def captured(toolchain, tmp_path_factory):
    """Real output of eslint (JSON and text), tsc, vitest (JSON and text, with coverage) on a broken package."""
    root = generate(tmp_path_factory.mktemp("cap") / "ws",
                    [PackageSpec("bad", "core", inject={"lint-error", "failing-test", "type-error", "low-coverage"})], toolchain=toolchain)
    pkg = root / "packages/core/bad"
    env = {**os.environ, "PATH": os.environ["PATH"] + os.pathsep + str(toolchain / "node_modules/.bin"), "CI": "true", "NO_COLOR": "1"}

    def run(*argv: str) -> tuple[int, str]:
        proc = subprocess.run(list(argv), cwd=pkg, env=env, capture_output=True, text=True, timeout=180)
        return proc.returncode, proc.stdout + proc.stderr

    out = {
        "eslint-json": run("eslint", "src", "--format", "json"),
        "eslint": run("eslint", "src"),
        "tsc": run("tsc", "--noEmit", "-p", "tsconfig.json"),
        "vitest-json": run("vitest", "run", "--reporter=json"),
        "vitest": run("vitest", "run", "--coverage.enabled=true", "--coverage.reporter=json-summary", "--coverage.reportOnFailure=true"),
    }
    return pkg, out


def parsed(captured, parser: str, min_coverage: float = 80):
    pkg, out = captured
    code, text = out[parser] if parser in out else (0, "")
    return code, parse_output(parser, code, text, text[-2000:], parser, pkg, min_coverage)


def test_eslint_json_and_text(captured):
    for parser in ("eslint-json", "eslint"):
        code, failures = parsed(captured, parser)
        assert code == 1
        [f] = failures
        assert (f.type, f.line, f.rule) == ("lint", 14, "@typescript-eslint/no-unused-vars")
        assert f.file.endswith("src/index.ts") and "unusedValue" in f.message


def test_tsc_diagnostics(captured):
    code, [f] = parsed(captured, "tsc")
    assert code == 2 and (f.type, f.file, f.line, f.rule) == ("typescript", "src/index.ts", 11, "TS2322")
    assert "not assignable" in f.message


def test_vitest_json_and_text(captured):
    code, [f] = parsed(captured, "vitest-json")
    assert code == 1 and f.type == "test" and f.file.endswith("test/index.test.ts") and f.line == 6
    assert "expected 2 to be 3" in f.message and "adds one" in f.message
    code, [f] = parsed(captured, "vitest")
    assert code == 1 and f.type == "test" and f.file == "test/index.test.ts" and "expected 2 to be 3" in f.message


def test_coverage_summary_from_the_v8_provider(captured):
    pkg, _ = captured
    total = json.loads((pkg / "coverage/coverage-summary.json").read_text())["total"]["lines"]["pct"]
    [f] = parse_output("coverage-summary", 0, "", "", "coverage", pkg, 80)
    assert f.type == "coverage" and f"{total:.1f}%" in f.message and total < 80
    assert parse_output("coverage-summary", 0, "", "", "coverage", pkg, total - 1) == []


def test_garbage_with_a_failing_exit_is_one_unknown_failure(tmp_path):
    proc = subprocess.run(["node", "-e", "console.log('%%% garbled \\u0007 output'); process.exit(1)"], capture_output=True, text=True)
    for parser in ("generic", "eslint-json", "vitest-json", "tsc"):
        [f] = parse_output(parser, proc.returncode, proc.stdout, proc.stdout, "x", tmp_path, 80)
        assert f.type == "unknown" and "garbled" in f.message and f.output_tail


