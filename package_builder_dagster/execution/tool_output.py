"""Reading what the JavaScript tools printed: tsc diagnostics, test-runner flags, missing modules and
commands, the first telling error line (ESLint's text and coverage summaries: `execution.output_parsers`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_TSC = re.compile(r"^(?:(?P<file>[^\s(][^(\n]*)\((?P<line>\d+),(?P<col>\d+)\): )?error (?P<code>TS\d+): (?P<msg>.*)$", re.M)


def typescript_diagnostics(output: str) -> list[dict[str, Any]]:
    """`tsc` diagnostics (`file(line,col): error TSxxxx: message`) found in a command's output."""
    return [
        {"file": m["file"], "line": int(m["line"]) if m["line"] else None, "code": m["code"], "message": m["msg"].strip()}
        for m in _TSC.finditer(output)
    ]


def format_diagnostic(diag: dict[str, Any]) -> str:
    """`file(line): TSxxxx: message`, the way the summary and the failure show one diagnostic."""
    where = f"{diag['file']}({diag['line']}): " if diag.get("file") else ""
    return f"{where}{diag['code']}: {diag['message']}"


COVERAGE_ARGS: dict[str, list[str]] = {
    "vitest": ["--coverage.enabled=true", "--coverage.reporter=json-summary", "--coverage.reporter=text", "--coverage.reportOnFailure=true"],
    "jest": ["--coverage", "--coverageReporters=json-summary", "--coverageReporters=text"],
}
VITEST_COVERAGE_PROVIDERS = ("@vitest/coverage-v8", "@vitest/coverage-istanbul")
# What a test run prints when flags this tool added are the cause of its failure.
_FLAGS_REJECTED = re.compile(
    r"MISSING DEPENDENCY|(?:Cannot find|Failed to load).*@vitest/coverage-|Failed to load coverage provider"
    r"|[Uu]nknown (?:option|argument|flag)|Unrecognized CLI Parameter|does not meet (?:the )?(?:global )?threshold"
    r"|coverage threshold for \w+ \([^)]*\) not met"  # jest's
)


def test_runner(script: str) -> str | None:
    """`vitest` or `jest` when a test script runs one of them directly; None for anything else."""
    words = script.split()
    runner = next((w for w in words if "=" not in w and w not in ("cross-env", "npx", "pnpm", "exec")), "")
    return runner if runner in COVERAGE_ARGS else None


def coverage_args(script: str) -> list[str] | None:
    """Arguments that make this test script's runner write a coverage summary; None if unknown."""
    runner = test_runner(script)
    return list(COVERAGE_ARGS[runner]) if runner else None


def resolves(start: Path, module: str) -> bool:
    """Whether Node finds `module` from folder `start` (its node_modules or a parent's)."""
    return any((folder / "node_modules" / module / "package.json").is_file() for folder in (start, *start.parents))


def missing_coverage_provider(runner: str, package_dir: Path) -> str | None:
    """Why `runner` cannot measure coverage from `package_dir`, or None (jest's coverage is built in)."""
    if runner == "vitest" and not any(resolves(package_dir, m) for m in VITEST_COVERAGE_PROVIDERS):
        return "no coverage provider installed (" + " or ".join(VITEST_COVERAGE_PROVIDERS) + ")"
    return None


def flags_rejected(output: str) -> str | None:
    """The line saying a run failed because of flags this tool added (unknown option, missing coverage
    dependency, a coverage threshold only coverage mode enforces), or None."""
    for line in output.splitlines():
        if _FLAGS_REJECTED.search(line):
            return line.strip()[:300]
    return None


_NOT_FOUND = re.compile(r"Cannot find (?:module|package)|Failed to (?:resolve|load url)|ERR_MODULE_NOT_FOUND|Could not resolve|MODULE_NOT_FOUND")


def module_not_found(output: str, package: str) -> bool:
    """Whether a run's output says module `package` (or a file in it) could not be resolved."""
    name = re.compile(r"(?<![\w@/.-])" + re.escape(package) + r"(?![\w-])")
    return any(_NOT_FOUND.search(line) and name.search(line) for line in output.splitlines())


# A package manager's own lines about a script that failed: never the telling line.
_LIFECYCLE_NOISE = re.compile(r"ELIFECYCLE|^npm (?:ERR!|error)|^error Command failed|Lifecycle script|^info Visit https://yarnpkg|"
                              r"^ERR_PNPM_|^\s*[❯>] .*\(\d+ tests?\)")
_COMMAND_NOT_FOUND = re.compile(r"^(?:sh|bash|/bin/sh): (?:\d+: )?(?:line \d+: )?(?P<a>[^:\s]+): (?:command )?not found$"
                                r"|^(?P<b>[^:\s]+): command not found$", re.M)


# A line that says what went wrong: a TypeScript diagnostic, `error`/`ERROR` as a word (pnpm's ` ERROR `),
# `Error:` or Node's `Error [ERR_…]:`, a test runner's FAIL, ESLint's crash banner.
_ERROR_LINE = re.compile(r"error TS\d+|(?i:\berror\b)|Error( \[[A-Z_]+\])?:|FAIL|✖|AssertionError|Oops! Something went wrong")
_STACK_FRAME = re.compile(r"^at .+\(.*\)$|^at (async )?\S+:\d+")


def command_not_found(output: str) -> str | None:
    """The program a script's shell could not find (`sh: 1: deno: not found`), or None."""
    m = _COMMAND_NOT_FOUND.search(output)
    return (m["a"] or m["b"]) if m else None


def first_error_line(text: str) -> str:
    """The most telling line of a failure: a diagnostic or 'Error' line, else the last non-empty one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("$ ", "# in "))]
    lines = [ln for ln in lines if not _LIFECYCLE_NOISE.search(ln)] or lines
    missing = command_not_found(text)
    if missing:
        return next(ln for ln in lines if missing in ln and "not found" in ln)[:300]
    for ln in lines:
        if not _STACK_FRAME.match(ln) and not ln.startswith("> ") and _ERROR_LINE.search(ln):  # "> cmd": npm's echo
            return ln[:300]
    return lines[-1][:300] if lines else ""
