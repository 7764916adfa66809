"""Typed failures: what went wrong in a package, in a form a person and a fix agent can act on.

`PARSERS` is the one registry of parsers (a gate's `parser`); the built-in checks read their tools'
output with the same ones (see `execution.quality_gates`). ESLint's text and the coverage summary
are read here and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from package_builder_dagster.execution.tool_output import first_error_line, typescript_diagnostics


@dataclass
class Failure:
    """One failure: its type, where (file and line when known), the rule or code, the message."""

    type: str  # lint, typescript, test, coverage, build, unknown, or the name of a team's own check
    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    command: str | None = None  # the command that reported it
    output_tail: str | None = None  # that command's output tail

    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


_ESLINT_SUMMARY = re.compile(r"(\d+) problems? \((\d+) errors?, (\d+) warnings?\)")


def eslint_counts(output: str) -> tuple[int, int] | None:
    """(errors, warnings) from ESLint's summary line, or None when there is none."""
    matches = _ESLINT_SUMMARY.findall(output)
    if not matches:
        return None
    _, errors, warnings = matches[-1]
    return int(errors), int(warnings)


_STYLISH_FILE = re.compile(r"^(/\S.*|[A-Za-z]:\\.*|\S.*\.(?:[cm]?[jt]sx?|vue|svelte|json|md))$")
_STYLISH_PROBLEM = re.compile(r"^\s+(\d+):(\d+)\s+(error|warning)\s+(.+?)(?:\s{2,}(\S+))?\s*$")


def eslint_stylish_failures(output: str, command: str | None = None, tail: str | None = None) -> list[Failure]:
    """ESLint errors from its default (stylish) output: a file line, then `line:col  error  message  rule`."""
    failures, current = [], None
    for line in output.splitlines():
        if _STYLISH_FILE.match(line.strip()) and not line.startswith(" "):
            current = line.strip()
            continue
        m = _STYLISH_PROBLEM.match(line)
        if m and m.group(3) == "error":
            failures.append(Failure("lint", m.group(4).strip(), current, int(m.group(1)), m.group(5), command, tail))
    return failures


def typescript_failures(diagnostics: list[dict], command: str | None = None, tail: str | None = None) -> list[Failure]:
    return [Failure("typescript", d["message"], d["file"], d["line"], d["code"], command, tail) for d in diagnostics]


def failure_types(failures: list[Failure]) -> list[str]:
    return sorted({f.type for f in failures})


def format_failures(failures: list[Failure], max_chars: int) -> str:
    """Failures as Markdown for a prompt: one line each, then each failing command with its output
    tail; cut to `max_chars` (the cut is marked)."""
    lines = ["## Failures", ""]
    for f in failures:
        where = f" `{f.location()}`" if f.location() else ""
        rule = f" ({f.rule})" if f.rule else ""
        lines.append(f"- **{f.type}**{where}{rule}: {f.message}")
    seen: set[str] = set()
    for f in failures:
        if f.command and f.command not in seen and f.output_tail:
            seen.add(f.command)
            lines += ["", f"### `{f.command}`", "", "```", f.output_tail.rstrip(), "```"]
    text = "\n".join(lines) + "\n"
    if len(text) > max_chars:
        marker = "\n… (cut to maxPromptChars)\n"
        text = text[: max_chars - len(marker)] + marker
    return text


# ---- parsers: a command's exit code and output → typed failures ---------------------------------

_GENERIC = re.compile(r"^\s*(?P<type>[A-Za-z][\w-]*):\s+(?:(?P<file>[^\s:]+):(?P<line>\d+):\s+)?(?P<msg>\S.*)$")
_VITEST_FAIL = re.compile(r"^\s*(?:FAIL|×|✗)\s+(?P<file>\S+\.(?:[cm]?[jt]sx?))\s*(?:>\s*(?P<name>.+))?$")
_JEST_FAIL = re.compile(r"^\s*●\s+(?P<name>.+?)\s*$")
_ERROR_LINE = re.compile(r"(AssertionError|Error|expected .+ to|Expected|Received)")
_STACK_AT = re.compile(r"\(?(?P<file>/[^:()\s]+\.(?:[cm]?[jt]sx?)):(?P<line>\d+):\d+\)?")


def _json_from(output: str) -> Any:
    """The first JSON document in `output` (reporters may print other lines around it)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^[\[{]", output, re.MULTILINE):
        try:
            return decoder.raw_decode(output[match.start():])[0]
        except ValueError:
            continue
    return None


def parse_eslint_json(output: str, command: str, tail: str) -> list[Failure]:
    data = _json_from(output)
    if not isinstance(data, list):
        return []
    return [Failure("lint", m.get("message", "").strip(), f.get("filePath"), m.get("line"), m.get("ruleId"), command, tail)
            for f in data if isinstance(f, dict) for m in f.get("messages", []) if m.get("severity") == 2]


def parse_jest_json(output: str, command: str, tail: str) -> list[Failure]:
    """Jest's `--json` and Vitest's `--reporter=json` (the same shape): one failure per failed test."""
    data = _json_from(output)
    if not isinstance(data, dict) or "testResults" not in data:
        return []
    failures = []
    for suite in data["testResults"]:
        for test in suite.get("assertionResults", []):
            if test.get("status") != "failed":
                continue
            message = "\n".join(test.get("failureMessages") or []) or suite.get("message", "")
            at = _STACK_AT.search(message)
            first = next((ln.strip() for ln in message.splitlines() if ln.strip()), "failed")
            failures.append(Failure("test", f"{test.get('fullName', '')}: {first}", suite.get("name"),
                                    int(at["line"]) if at and at["file"] == suite.get("name") else None, None, command, tail))
        if suite.get("status") == "failed" and not suite.get("assertionResults"):
            message = (suite.get("message") or "test file failed").strip().splitlines()[0]
            failures.append(Failure("test", message, suite.get("name"), None, None, command, tail))
    return failures


def parse_test_text(output: str, command: str, tail: str) -> list[Failure]:
    """Vitest's and Jest's default text: `FAIL file > test` (vitest) or `● test` (jest) and the error after it."""
    failures, lines = [], output.splitlines()
    for i, line in enumerate(lines):
        m = _VITEST_FAIL.match(line) or _JEST_FAIL.match(line)
        if not m or (m.re is _JEST_FAIL and "›" not in line and ">" not in line):
            continue
        error = next((ln.strip() for ln in lines[i + 1:i + 15] if _ERROR_LINE.search(ln)), "failed")
        name = (m.groupdict().get("name") or "").strip()
        failures.append(Failure("test", f"{name}: {error}" if name else error, m.groupdict().get("file"), None, None, command, tail))
    return failures


def parse_generic(output: str, command: str, tail: str) -> list[Failure]:
    """`TYPE: file:line: message` or `TYPE: message`, one per line (for a team's own scripts). TYPE is
    any lower-case word (lint, test, typescript, coverage, docs, ...); `error` means unknown;
    `warning`, `info`, `note` and `debug` lines are not failures."""
    failures = []
    for line in output.splitlines():
        m = _GENERIC.match(line)
        if not m or not m["type"].islower() or m["type"] in ("warning", "info", "note", "debug"):
            continue
        kind = "unknown" if m["type"] == "error" else m["type"]
        failures.append(Failure(kind, m["msg"].strip(), m["file"], int(m["line"]) if m["line"] else None, None, command, tail))
    return failures


COVERAGE_SUMMARY = "coverage/coverage-summary.json"  # where Istanbul, c8 and V8 write it, in the package folder
_COVERAGE_TEXT = re.compile(r"^\s*All files\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)", re.M)


def coverage_summary(package_dir: Path) -> dict[str, float] | None:
    """The percentages of the package's coverage summary (lines, statements, functions, branches), or None."""
    try:
        total = json.loads((package_dir / COVERAGE_SUMMARY).read_text())["total"]
        return {k: float(total[k]["pct"]) for k in ("lines", "statements", "functions", "branches") if k in total}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_coverage(package_dir: Path, output: str) -> dict[str, float] | None:
    """Coverage percentages from coverage/coverage-summary.json, else the runner's text table."""
    summary = coverage_summary(package_dir)
    if summary:
        return summary
    m = _COVERAGE_TEXT.findall(output)
    if m:
        stmts, branches, funcs, lines = (float(x) for x in m[-1])
        return {"lines": lines, "statements": stmts, "functions": funcs, "branches": branches}
    return None


def coverage_shortfall(pct: float, minimum: float) -> str | None:
    """`line coverage X% is below Y%` when `pct` is below `minimum`, else None."""
    return f"line coverage {pct:.1f}% is below {minimum:g}%" if pct < minimum else None


def parse_coverage_summary(package_dir: Path, minimum: float, command: str) -> list[Failure]:
    """Istanbul, c8 and V8 `coverage/coverage-summary.json`: a failure when line coverage is below `minimum`."""
    summary = coverage_summary(package_dir)
    if summary is None or "lines" not in summary:
        return [Failure("coverage", f"no readable coverage summary at {Path(COVERAGE_SUMMARY).name}", command=command)]
    short = coverage_shortfall(summary["lines"], minimum)
    return [Failure("coverage", short, COVERAGE_SUMMARY, command=command)] if short else []


@dataclass(frozen=True)
class ToolRun:
    """What a check's command left for a parser: exit code, output (and its tail), the command as shown."""

    exit_code: int | None
    output: str
    tail: str
    command: str
    package_dir: Path
    min_coverage: float


Parser = Callable[[ToolRun], list[Failure]]

PARSERS: dict[str, Parser] = {  # the names config.PARSERS lets a gate choose
    "generic": lambda run: parse_generic(run.output, run.command, run.tail),
    "eslint": lambda run: eslint_stylish_failures(run.output, run.command, run.tail),
    "eslint-json": lambda run: parse_eslint_json(run.output, run.command, run.tail),
    "tsc": lambda run: typescript_failures(typescript_diagnostics(run.output), run.command, run.tail),
    "vitest": lambda run: parse_test_text(run.output, run.command, run.tail),
    "vitest-json": lambda run: parse_jest_json(run.output, run.command, run.tail),
    "jest": lambda run: parse_test_text(run.output, run.command, run.tail),
    "jest-json": lambda run: parse_jest_json(run.output, run.command, run.tail),
    "coverage-summary": lambda run: (parse_coverage_summary(run.package_dir, run.min_coverage, run.command)
                                     if run.exit_code == 0 else []),
    "none": lambda run: [],
}


def parse_output(parser: str, exit_code: int | None, output: str, tail: str, command: str,
                 package_dir: Path, min_coverage: float) -> list[Failure]:
    """A check's failures. Whatever the parser, a non-zero exit with nothing recognised is one `unknown` failure."""
    found = PARSERS.get(parser, PARSERS["none"])(ToolRun(exit_code, output, tail, command, package_dir, min_coverage))
    if exit_code != 0 and not found:
        found = [Failure("unknown", first_error_line(output) or f"exit code {exit_code}", command=command, output_tail=tail)]
    return found


def count_types(failures: list[Failure]) -> dict[str, int]:
    """How many failures of each type, by type name."""
    counts: dict[str, int] = {}
    for f in failures:
        counts[f.type] = counts.get(f.type, 0) + 1
    return dict(sorted(counts.items()))


def failure_metadata(failures: list[Failure], shown: int = 5) -> dict[str, Any]:
    """Counts per type and the first few messages, for an asset check's metadata."""
    meta: dict[str, Any] = {f"failures_{t}": n for t, n in count_types(failures).items()}
    if failures:
        meta["first_failures"] = "\n".join(
            f"{f.type} {f.location() + ' ' if f.location() else ''}{'(' + f.rule + ') ' if f.rule else ''}{f.message}"[:300]
            for f in failures[:shown])
    return meta


# ---- any linter: `file:line[:col]: message` lines ------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LINTER_LINE = re.compile(r"^(?:\./)?(?P<file>[^\s:]*[./][^\s:]*):(?P<line>\d+)(?::(?P<col>\d+))?:(?!\d)\s*(?P<msg>\S.*?)\s*$")
_LINTER_NOT_FINDING = ("npm ", "> ", "$ ", "# in ")
_LINTER_SEVERITY = re.compile(r"^(?:fatal\s+)?(?P<sev>error|warning|warn|note|info|style|hint|debug)\s*(?:\[[^\]]*\])?\s*:\s*",
                              re.IGNORECASE)
_LINTER_CODE = re.compile(r"^(?P<rule>[A-Z]{1,4}\d{2,5})\b(?:\s*\[\*\])?\s*")
_LINTER_RULE_SUFFIX = re.compile(r"\s*(?:\[(?:(?P<sev>Error|Warning)/(?P<unix>[^\]\s]+)|(?P<bracket>[A-Z]{1,4}\d{2,5}))\]"
                                 r"|\((?P<paren>@?[a-z][\w.-]*(?:/[\w.-]+)*)\))$")


def parse_linter_lines(output: str, command: str | None, tail: str | None, failure_type: str = "lint") -> list[Failure]:
    """Findings printed as `file:line[:col]: message` or `file:line[:col]:message` (one per line), by any linter.

    buf (`proto/a.proto:12:3:Field name ...`), ruff/flake8/pyflakes (`a.py:1:8: F401 ...`),
    shellcheck `-f gcc` (`a.sh:3:1: error: ... [SC1035]`), ESLint's `unix` format, and the like. The
    file part must look like a path (no spaces or colons, a `.` or `/` in it, a letter, not an IP
    address); the line must be followed by `:` and a message (so tsc's `a.ts:4:10 - error` and
    markdownlint's `a.md:3 MD012` are not this shape), and the line must not be indented (ESLint's
    stylish `  3:7  error ...` and Node stack frames are not findings). Lines starting `npm `, `> `,
    `$ `, `# in ` and URLs are skipped. A message starting `warning:`, `note:`, `info:`, `style:`
    (or `[Warning/rule]` at the end) is not a failure; `error:` is dropped from the message. The rule
    is a leading code (`F401`, ruff's `[*]` fix marker dropped) or a `[SC2086]`, `[Error/rule]` or
    `(rule-name)` suffix, else None."""
    failures = []
    for raw in output.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        if line.startswith(_LINTER_NOT_FINDING) or re.match(r"^[A-Za-z][\w+.-]*://", line):
            continue
        m = _LINTER_LINE.match(line)
        if not m or not re.search(r"[A-Za-z]", m["file"]) or re.fullmatch(r"[\d.]+", m["file"]):
            continue
        msg, rule = m["msg"], None
        sev = _LINTER_SEVERITY.match(msg)
        if sev:
            if sev["sev"].lower() != "error":
                continue
            msg = msg[sev.end():]
        code = _LINTER_CODE.match(msg)
        if code and msg[code.end():]:
            rule, msg = code["rule"], msg[code.end():]
        suffix = _LINTER_RULE_SUFFIX.search(msg)
        if suffix and msg[:suffix.start()].strip():
            if suffix["sev"] == "Warning":
                continue
            if suffix["paren"] is None or "-" in suffix["paren"] or "/" in suffix["paren"]:
                rule = rule or suffix["unix"] or suffix["bracket"] or suffix["paren"]
                msg = msg[:suffix.start()]
        failures.append(Failure(failure_type, msg.strip(), m["file"], int(m["line"]), rule, command, tail))
    return failures
