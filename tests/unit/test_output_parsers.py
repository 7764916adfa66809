"""Parsers of the tools' output, in process, on output of the shapes the tools print (tsc, ESLint's
stylish and JSON formats, Vitest's and Jest's text and JSON reporters, coverage summaries, a team's
own generic lines, npm's noise): typed failures, counts, coverage, and the telling line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_builder_dagster.execution.output_parsers import (
    Failure,
    count_types,
    eslint_counts,
    failure_metadata,
    format_failures,
    parse_output,
    read_coverage,
)
from package_builder_dagster.execution.tool_output import (
    command_not_found,
    module_not_found,
    typescript_diagnostics,
)
from package_builder_dagster.execution.tool_output import (
    test_runner as runner_of,  # (as test_runner, pytest would collect it)
)

DATA = Path(__file__).resolve().parents[1] / "data"
CMD = "npm run check"

TSC = """\
> @ex/core@1.0.0 build
> tsc -p tsconfig.json

src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
src/util/math.ts(12,1): error TS2304: Cannot find name 'missing'.
error TS5083: Cannot read file '/ws/tsconfig.base.json'.
npm ERR! Lifecycle script `build` failed with error:
"""

ESLINT_JSON = [
    {"filePath": "/ws/packages/core/src/index.ts", "errorCount": 1, "warningCount": 1, "messages": [
        {"ruleId": "@typescript-eslint/no-unused-vars", "severity": 2, "message": "'x' is assigned a value but never used.",
         "line": 2, "column": 7},
        {"ruleId": "prefer-const", "severity": 1, "message": "'y' is never reassigned.", "line": 3, "column": 5}]},
    {"filePath": "/ws/packages/core/src/clean.ts", "errorCount": 0, "warningCount": 0, "messages": []},
]

VITEST_JSON = {
    "numFailedTests": 1, "success": False,
    "testResults": [
        {"name": "/ws/packages/core/src/math.test.ts", "status": "failed", "message": "", "assertionResults": [
            {"fullName": "math adds", "status": "failed", "failureMessages": [
                "AssertionError: expected 3 to be 4 // Object.is equality\n    at /ws/packages/core/src/math.test.ts:5:17"]},
            {"fullName": "math subtracts", "status": "passed", "failureMessages": []}]},
        {"name": "/ws/packages/core/src/broken.test.ts", "status": "failed", "assertionResults": [],
         "message": "Failed to load url ./nothing (resolved id: ./nothing)\nin /ws/packages/core/src/broken.test.ts"},
    ],
}

VITEST_TEXT = """\
 ❯ src/math.test.ts (2 tests | 1 failed) 4ms
   × math > adds 3ms

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  src/math.test.ts > math > adds
AssertionError: expected 3 to be 4 // Object.is equality
"""

JEST_TEXT = """\
FAIL src/math.test.js
  math
    ✕ adds (3 ms)

  ● math › adds

    expect(received).toBe(expected) // Object.is equality

    Expected: 4
    Received: 3
"""


def parse(parser: str, output: str, exit_code: int = 1, package_dir: Path = Path("/nonexistent"), min_coverage: float = 0):
    return parse_output(parser, exit_code, output, output[-200:], CMD, package_dir, min_coverage)


def test_tsc_diagnostics_are_typescript_failures_with_file_line_and_code():
    failures = parse("tsc", TSC, exit_code=2)
    assert [(f.type, f.file, f.line, f.rule) for f in failures] == [
        ("typescript", "src/index.ts", 3, "TS2322"), ("typescript", "src/util/math.ts", 12, "TS2304"), ("typescript", None, None, "TS5083")]
    assert failures[0].message == "Type 'string' is not assignable to type 'number'."
    assert failures[0].command == CMD and failures[0].location() == "src/index.ts:3" and failures[2].location() == ""


def test_eslint_json_errors_only_after_npms_echo():
    output = "\n> @ex/core@1.0.0 lint\n> eslint --format json src\n\n" + json.dumps(ESLINT_JSON) + "\n"
    failures = parse("eslint-json", output)
    assert [(f.file, f.line, f.rule) for f in failures] == [("/ws/packages/core/src/index.ts", 2, "@typescript-eslint/no-unused-vars")]


def test_eslint_stylish_captured_output_gives_each_error_with_its_file_and_the_counts():
    output = (DATA / "eslint-stylish.txt").read_text()
    failures = parse("eslint", output)
    assert [(Path(f.file).name, f.line, f.rule) for f in failures] == [
        ("a.js", 2, "no-unused-vars"), ("a.js", 3, "no-undef"), ("b.js", 1, "no-unused-vars"), ("b.js", 1, "no-unused-vars"),
        ("b.js", 1, "no-undef")]
    assert eslint_counts(output) == (5, 1)
    assert eslint_counts("all clean") is None


def test_vitest_json_one_failure_per_failed_test_and_per_file_that_failed_to_load():
    failures = parse("vitest-json", "some banner\n" + json.dumps(VITEST_JSON))
    assert [(f.type, Path(f.file).name, f.line) for f in failures] == [("test", "math.test.ts", 5), ("test", "broken.test.ts", None)]
    assert failures[0].message == "math adds: AssertionError: expected 3 to be 4 // Object.is equality"
    assert failures[1].message.startswith("Failed to load url ./nothing")


def test_test_runners_text_names_the_test_and_its_error():
    failures = parse("vitest", VITEST_TEXT)
    assert [(f.file, f.message) for f in failures] == [
        ("src/math.test.ts", "math > adds: AssertionError: expected 3 to be 4 // Object.is equality")]
    failures = parse("jest", JEST_TEXT)
    assert (None, "math › adds: Expected: 4") in [(f.file, f.message) for f in failures]  # (jest's `FAIL file` line counts too)
    assert {f.type for f in failures} == {"test"}


def test_coverage_summary_below_the_minimum_is_one_failure_and_unreadable_is_named(tmp_path):
    (tmp_path / "coverage").mkdir()
    summary = tmp_path / "coverage" / "coverage-summary.json"
    summary.write_text(json.dumps({"total": {k: {"pct": pct} for k, pct in
                                             (("lines", 72.5), ("statements", 70), ("functions", 80), ("branches", 50.25))}}))
    assert [f.message for f in parse("coverage-summary", "", 0, tmp_path, 80)] == ["line coverage 72.5% is below 80%"]
    assert parse("coverage-summary", "", 0, tmp_path, 70) == []
    assert read_coverage(tmp_path, "") == {"lines": 72.5, "statements": 70.0, "functions": 80.0, "branches": 50.25}
    summary.write_text("{not json")
    assert [f.message for f in parse("coverage-summary", "", 0, tmp_path, 80)] == ["no readable coverage summary at coverage-summary.json"]


def test_coverage_from_the_runners_text_table_when_there_is_no_summary(tmp_path):
    table = ("-----------|---------|----------|---------|---------|\nFile       | % Stmts | % Branch | % Funcs | % Lines |\n"
             "-----------|---------|----------|---------|---------|\nAll files  |   88.88 |       75 |     100 |   87.5 |\n")
    assert read_coverage(tmp_path, table) == {"lines": 87.5, "statements": 88.88, "functions": 100.0, "branches": 75.0}
    assert read_coverage(tmp_path, "no table") is None


def test_generic_lines_of_a_teams_own_script():
    output = "lint: src/a.ts:3: no console\ndocs: README is missing a section\nwarning: ignored\nerror: it broke\nDocs: Capitalised is not a type\n"
    failures = parse("generic", output)
    assert [(f.type, f.file, f.line, f.message) for f in failures] == [
        ("lint", "src/a.ts", 3, "no console"), ("docs", None, None, "README is missing a section"), ("unknown", None, None, "it broke")]


@pytest.mark.parametrize("parser", ["generic", "vitest-json", "eslint-json", "no-such-parser"])
def test_a_failing_exit_with_nothing_recognised_is_one_unknown_failure_with_the_telling_line(parser):
    output = ("> @ex/core@1.0.0 check\n> node check.js\n\nTypeError: Cannot read properties of undefined (reading 'x')\n"
              "    at main (/ws/check.js:3:9)\nnpm ERR! code ELIFECYCLE\n")
    failures = parse(parser, output, exit_code=1)
    assert [(f.type, f.message) for f in failures] == [("unknown", "TypeError: Cannot read properties of undefined (reading 'x')")]
    assert parse(parser, output, exit_code=0) == []


def test_an_exit_code_with_no_output_says_the_code():
    assert [f.message for f in parse("generic", "", exit_code=3)] == ["exit code 3"]


def test_failures_as_a_prompt_list_each_failure_then_each_commands_tail_once_and_cut_to_the_limit():
    failures = [Failure("lint", "'x' is unused", "src/a.ts", 2, "no-unused-vars", "npm run lint", "lint tail"),
                Failure("lint", "'y' is unused", "src/b.ts", None, None, "npm run lint", "lint tail"),
                Failure("test", "adds: expected 3 to be 4", command="npm test", output_tail="test tail\n")]
    text = format_failures(failures, 10_000)
    assert text.splitlines()[:5] == ["## Failures", "", "- **lint** `src/a.ts:2` (no-unused-vars): 'x' is unused",
                                     "- **lint** `src/b.ts`: 'y' is unused", "- **test**: adds: expected 3 to be 4"]
    assert text.count("### `npm run lint`") == 1 and text.count("### `npm test`") == 1 and "test tail\n```" in text
    cut = format_failures(failures, 120)
    assert len(cut) == 120 and cut.endswith("… (cut to maxPromptChars)\n")
    assert count_types(failures) == {"lint": 2, "test": 1}
    meta = failure_metadata(failures, shown=2)
    assert meta["failures_lint"] == 2 and meta["failures_test"] == 1
    assert meta["first_failures"].splitlines() == ["lint src/a.ts:2 (no-unused-vars) 'x' is unused", "lint src/b.ts 'y' is unused"]


def test_runner_missing_commands_and_modules_are_read_from_the_output():
    assert runner_of("vitest run") == "vitest" and runner_of("cross-env CI=1 jest --ci") == "jest"
    assert runner_of("node --test") is None and runner_of("mocha") is None
    assert command_not_found("sh: 1: deno: not found\n") == "deno" and command_not_found("bash: bun: command not found") == "bun"
    assert command_not_found("Error: deno failed") is None
    not_found = "Error: Cannot find module '@ex/util/dist/index.js' imported from /ws/packages/app/src/index.ts"
    assert module_not_found(not_found, "@ex/util") and not module_not_found(not_found, "@ex/ut")
    assert not module_not_found("Cannot find module 'lodash'", "@ex/util")
    assert typescript_diagnostics("all good") == []
