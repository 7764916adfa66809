"""One package's quality gates: the predefined ones (`builtin`: lint, typescript, coverage) and the
configured ones (a command or a package script), each read by a parser of the one registry
(`execution.output_parsers.PARSERS`), and the verdict on them. No Dagster here.

A predefined gate is a configured gate whose command and parser are known in advance: `lint` runs
the package's `lint` script, read by the `eslint` parser (else any linter's `file:line: message`
lines); `typescript` takes the build's own tsc diagnostics, or runs `tsc --noEmit`, read by the
`tsc` parser; `coverage` reads the test run's coverage summary (the `coverage-summary` parser's
file), else the runner's text table.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from package_builder_dagster.discovery.config import QualityCheck
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.discovery.package_managers import find_bin
from package_builder_dagster.discovery.turbo.plan import phase_scripts
from package_builder_dagster.execution.commands import CommandResult
from package_builder_dagster.execution.output_parsers import (
    PARSERS,
    Failure,
    ToolRun,
    count_types,
    coverage_shortfall,
    eslint_counts,
    failure_metadata,
    parse_linter_lines,
    parse_output,
    read_coverage,
)
from package_builder_dagster.execution.record import CheckResult, PackageRecord, check_result
from package_builder_dagster.execution.steps import PhaseFailed
from package_builder_dagster.execution.tool_output import first_error_line

if TYPE_CHECKING:
    from package_builder_dagster.execution.package_pipeline import PackagePipeline

PREDEFINED_PARSERS = {"lint": "eslint", "typescript": "tsc", "coverage": "coverage-summary"}  # builtin → its parser
_TIMINGS = threading.Lock()  # guards PackageRecord.timings, which parallel checks add to


def tsc_line(failure: Failure) -> str:
    """`file(line): TSxxxx: message`, the way the summary and the failure show one tsc diagnostic."""
    where = f"{failure.file}({failure.line}): " if failure.file else ""
    return f"{where}{failure.rule}: {failure.message}"


class QualityGates:
    """Runs a package's gates through its pipeline's command runner, and judges them."""

    def __init__(self, pipeline: PackagePipeline):
        self.pipeline, self.config = pipeline, pipeline.config

    def _parsed(self, parser: str, result: CommandResult, text: str, command: str, pkg: Package) -> list[Failure]:
        """The failures the registry's `parser` finds (no `unknown` fallback: the gate chooses its own)."""
        run = ToolRun(result.exit_code, text, result.tail, command, pkg.dir, self.config.testing.min_coverage)
        return PARSERS[parser](run)

    def run_check(self, pkg: Package, out: PackageRecord, gate: QualityCheck, test_output: str, tests_ok: bool | None) -> CheckResult:
        """One quality check (its time is added to the package's quality time)."""
        started = time.monotonic()
        if gate.builtin == "lint":
            check = self.check_lint(pkg, out)
        elif gate.builtin == "typescript":
            check = self.check_typescript(pkg, out)
        elif gate.builtin == "coverage":
            check = self.check_coverage(pkg, out, test_output, tests_ok)
        else:
            check = self.check_command(pkg, out, gate)
        check.name = gate.name
        check.warning_only = check.warning_only or gate.warnOnly
        with _TIMINGS:  # checks of one package run in parallel
            out.timings["quality"] += int((time.monotonic() - started) * 1000)
        return check

    def judge(self, out: PackageRecord, checks: list[CheckResult]) -> None:
        """Record the checks; raise when one failed and testing.failOnError is on, else warn. A
        warn-only gate that failed is a warning, whatever failOnError says (no fix loop either)."""
        failed = [c for c in checks if c.ran and not c.passed and not c.warning_only]
        for check in checks:
            out.checks[check.name] = check
            if check.ran and not check.passed and check.warning_only:
                message = f"{check.name} (warning only, not a gate without a strict config): {check.description}"
                if message not in out.warnings:  # the fix loop judges again
                    out.warnings.append(message)
        if failed:
            message = "quality checks failed: " + "; ".join(f"{c.name}: {c.description}" for c in failed)
            if self.config.testing.failOnError:
                detail = "\n\n".join(str(c.metadata.get("output_tail", "")) for c in failed)
                raise PhaseFailed("quality", message, detail, [f for c in failed for f in c.failures], fixable=True)
            for check in failed:
                check.warning_only = True
            out.warnings.append(message)

    def check_command(self, pkg: Package, out: PackageRecord, gate: QualityCheck) -> CheckResult:
        """A configured gate: its command in the package folder (or the package's script, through the
        package manager), its output read by its parser."""
        if gate.script is not None:
            if gate.script not in pkg.scripts:
                return check_result(gate.name, True, False, f"not run: the package has no `{gate.script}` script")
            argv, command = self.pipeline.pm.run_script(gate.script), f"run {gate.script}"
        else:
            assert gate.command
            argv, command = list(gate.command), " ".join(gate.command)
        result = self.pipeline.run_command(pkg, "quality", gate.name, argv, timeout=gate.timeoutSeconds)
        self.pipeline.record_step(out, "quality", gate.script or gate.name, result)
        text = result.read_output()
        failures = parse_output(gate.parser, result.exit_code, text, result.tail, command, pkg.dir, self.config.testing.min_coverage)
        meta: dict[str, Any] = {"exit_code": result.exit_code, "log": str(result.log_path), "parser": gate.parser, **failure_metadata(failures)}
        if result.ok and not failures:
            return check_result(gate.name, True, True, f"`{command}` passed", meta)
        meta["output_tail"] = result.tail
        counts = ", ".join(f"{n} {t}" for t, n in count_types(failures).items())
        first = failures[0]
        where = f" {first.location()}" if first.location() else ""
        return check_result(gate.name, False, True, f"{counts}:{where} {first.message}"[:300], meta, failures=failures)

    def check_lint(self, pkg: Package, out: PackageRecord) -> CheckResult:
        """The predefined `lint` gate: the package's `lint` script (with turbo.json, its first lint task),
        read by the `eslint` parser."""
        script = next(iter(phase_scripts(self.config, pkg, "lint")), "lint") if pkg.turbo else "lint"
        if script not in pkg.scripts:
            return check_result("lint", True, False, "not run: the package has no `lint` script")
        result = self.pipeline.run_command(pkg, "quality", script, self.pipeline.pm.run_script(script))
        self.pipeline.record_step(out, "quality", script, result)
        text = result.read_output()
        counts = eslint_counts(text)
        # Not ESLint's output: any linter's `file:line[:col]: message` lines, each a finding.
        others = parse_linter_lines(text, "run lint", result.tail) if counts is None and not result.ok else []
        errors, warnings = counts if counts else ((len(others) or (0 if result.ok else 1)), 0)
        out.lint_errors, out.lint_warnings = errors, warnings
        meta = {"errors": errors, "warnings": warnings, "exit_code": result.exit_code, "log": str(result.log_path)}
        if not result.ok:
            meta["output_tail"] = result.tail
            failures = (self._parsed(PREDEFINED_PARSERS["lint"], result, text, "run lint", pkg) or others
                        or [Failure("lint", first_error_line(text), command="run lint", output_tail=result.tail)])
            meta.update(failure_metadata(failures))
            first = failures[0]
            where = f"{first.location()}: " if first.location() and first.location() not in first.message else ""
            return check_result("lint", False, True, f"{errors} lint error(s): {where}{first.message}"[:300], meta, failures=failures)
        return check_result("lint", True, True, f"{errors} errors, {warnings} warnings", meta)

    def check_typescript(self, pkg: Package, out: PackageRecord) -> CheckResult:
        """The predefined `typescript` gate: the build's own tsc run, else `tsc --noEmit`, read by the `tsc` parser."""
        build_scripts = [pkg.scripts[s] for s in phase_scripts(self.config, pkg, "build") if s in pkg.scripts]
        if any("tsc" in s for s in build_scripts):
            errors = out.typescript_errors or 0
            return check_result("typescript", errors == 0, True, f"{errors} error(s), from the build's own tsc run",
                                {"errors": errors, "source": "build"})
        tsc = find_bin(pkg.dir, self.config.root, "tsc")
        if not (pkg.dir / "tsconfig.json").is_file() or tsc is None:
            return check_result("typescript", True, False, "not run: no tsconfig.json or no tsc")
        result = self.pipeline.run_command(pkg, "quality", "tsc-noEmit", [str(tsc), "--noEmit", "-p", "tsconfig.json"])
        self.pipeline.record_step(out, "quality", "tsc --noEmit", result)
        found = self._parsed(PREDEFINED_PARSERS["typescript"], result, result.read_output(), "tsc --noEmit", pkg)
        out.typescript_errors = len(found) if found or result.ok else 1
        meta = {"errors": out.typescript_errors, "source": "tsc --noEmit", "log": str(result.log_path)}
        if not result.ok:
            meta["output_tail"] = result.tail
            first = tsc_line(found[0]) if found else first_error_line(result.tail)
            failures = found or [Failure("typescript", first, command="tsc --noEmit", output_tail=result.tail)]
            return check_result("typescript", False, True, f"{out.typescript_errors} error(s): {first}", meta, failures=failures)
        return check_result("typescript", True, True, "0 errors (tsc --noEmit)", meta)

    def check_coverage(self, pkg: Package, out: PackageRecord, test_output: str, tests_ok: bool | None) -> CheckResult:
        """The predefined `coverage` gate: the test run's coverage summary (or text table) against the minimum."""
        testing = self.config.testing
        if not testing.enableCoverage:
            return check_result("coverage", True, False, "not run: testing.enableCoverage is false")
        if tests_ok is None:
            return check_result("coverage", True, False, "not run: the package has no test script")
        cov = read_coverage(pkg.dir, test_output)
        if cov is None:
            return check_result("coverage", True, False, out.coverage_note or "not measured: the test run wrote no coverage summary")
        out.coverage = cov
        pct = cov.get("lines", cov.get("statements", 0.0))
        meta: dict[str, Any] = {f"{k}_pct": v for k, v in cov.items()}
        meta["min_pct"] = testing.min_coverage
        message = coverage_shortfall(pct, testing.min_coverage)
        if message:
            failure = Failure("coverage", message + ": add tests for the uncovered code", command="run test (coverage)")
            return check_result("coverage", False, True, message, meta, failures=[failure])
        return check_result("coverage", True, True, f"line coverage {pct:.1f}% (minimum {testing.min_coverage:g}%)", meta)
