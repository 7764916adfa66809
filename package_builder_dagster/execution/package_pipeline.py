"""One package's phases as plain Python (no Dagster here): plan, restore, build, test, a fix attempt,
publishing, saving to the cache; its quality checks are `execution.quality_gates`.
`execution.package_tasks` runs them as tasks of the run's graph, and runs them again after a fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from package_builder_dagster.cache.digest import outputs_digest
from package_builder_dagster.cache.outputs import detect_outputs, glob_outputs, snapshot
from package_builder_dagster.cache.package_cache import CacheInfo, PackageCache
from package_builder_dagster.discovery.cache_keys import rekey
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.discovery.package_managers import PackageManager
from package_builder_dagster.discovery.package_names import package_path
from package_builder_dagster.discovery.turbo.plan import phase_scripts
from package_builder_dagster.errors import AgentError
from package_builder_dagster.execution.commands import CommandResult, CommandRunner
from package_builder_dagster.execution.fix_agents import Agents, FixAttempt, file_hash
from package_builder_dagster.execution.output_parsers import Failure, failure_types, typescript_failures
from package_builder_dagster.execution.publishing import Publisher, PublishOutcome, display_url
from package_builder_dagster.execution.quality_gates import QualityGates
from package_builder_dagster.execution.record import PackageRecord, cache_view, restore_cached
from package_builder_dagster.execution.steps import FLAKY_WARNING, FailedAttempt, FlakyTests, PhaseFailed, StepRun, now_iso
from package_builder_dagster.execution.tool_output import (
    COVERAGE_ARGS,
    command_not_found,
    first_error_line,
    flags_rejected,
    format_diagnostic,
    missing_coverage_provider,
    module_not_found,
    test_runner,
    typescript_diagnostics,
)

__all__ = ["PackagePipeline", "PhaseFailed", "crashed", "now_iso", "untested_reason"]


def crashed(result: CommandResult) -> bool:
    """Ended by a signal (or never started): no code edit fixes that."""
    return result.exit_code is None or result.exit_code < 0 or result.exit_code >= 128


def untested_reason(config: BuildConfig, tests_passed: bool | None) -> str | None:
    """Why publishing.requireTests holds a package back, or None."""
    if not config.publishing.requireTests or tests_passed:
        return None
    return "publishing.requireTests: " + ("no test ran" if tests_passed is None else "its tests failed")


class PackagePipeline:
    """Runs one package's phases with a shared CommandRunner; reports state changes via `on_state`."""

    def __init__(
        self,
        config: BuildConfig,
        pm: PackageManager,
        runner: CommandRunner,
        logs_dir: Path,
        on_state: Callable[[str, str, dict[str, Any]], None],
        publisher: Publisher | None = None,
        agents: Agents | None = None,
        cache: PackageCache | None = None,
    ):
        self.config, self.pm, self.runner, self.logs_dir, self.on_state = config, pm, runner, logs_dir, on_state
        self.publisher, self.agents, self.cache = publisher, agents, cache
        self.fixable_runs = config.agents.fix.fixBuildAndTestFailures
        self.gates = QualityGates(self)  # the quality checks, run through this pipeline's commands

    # -- helpers ----------------------------------------------------------------------------
    def run_command(self, pkg: Package, phase: str, label: str, argv: list[str], env: dict[str, str] | None = None,
             timeout: float | None = None) -> CommandResult:
        log = package_path(self.logs_dir, pkg.name) / f"{phase}-{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}.log"
        result = self.runner.run(argv, pkg.dir, log, env=env, timeout=timeout)
        if result.cancelled:
            raise PhaseFailed(phase, "cancelled: the run was terminated")
        if result.missing_tool:
            raise PhaseFailed(phase, f"missing tool: {result.missing_tool}", result.tail)
        if result.timed_out:
            raise PhaseFailed(phase, f"`{label}` timed out after {timeout or self.config.commandTimeoutSeconds:g} s", result.tail)
        missing = command_not_found(result.tail) if not result.ok else None
        if missing:  # the environment lacks a program: no code edit fixes that, and it is no lint or test failure
            raise PhaseFailed(phase, f"missing tool: {missing} is not installed or not on PATH (`{label}`: {first_error_line(result.tail)})",
                              result.tail)
        return result

    def record_step(self, out: PackageRecord, phase: str, script: str, result: CommandResult | None) -> None:
        if result is None:
            out.steps.append(StepRun(phase, script, "not-run"))
        else:
            start = datetime.now(UTC) - timedelta(milliseconds=result.duration_ms)
            out.steps.append(StepRun(phase, script, "passed" if result.ok else "failed", result.duration_ms, str(result.log_path),
                                     result.exit_code, start.isoformat(timespec="milliseconds")))

    # -- phases (execution.package_tasks runs them as tasks) ------------------------------------
    def prepare(self, pkg: Package, out: PackageRecord, verify: bool = True) -> bool:
        """What comes before a build: the plan, the published dependencies (unless `verify` is False:
        then before publishing), the cache; True on a cache hit."""
        self.plan(pkg, out)
        if self.publisher and verify:
            self.verify_dependencies(pkg)
        return self.restore(pkg, out)

    def restore(self, pkg: Package, out: PackageRecord) -> bool:
        """Restore the package from the artifact cache when its key is there; True on a hit."""
        if self.cache is None or not pkg.cache_key:
            return False
        out.cache = CacheInfo(pkg.cache_key, dict(pkg.cache_inputs))
        self.on_state(pkg.name, "restoring", {"key": pkg.cache_key})
        restored = self.cache.lookup(pkg, out.cache)
        if restored is None:
            if out.cache.note:
                out.warnings.append(out.cache.note)
            return False
        restore_cached(out, restored.record, restored.logs)
        out.outputs, out.outputs_digest = restored.files, restored.digest
        return True

    def save(self, pkg: Package, out: PackageRecord, warnings: list[str], duration_ms: int) -> None:
        """Store a package that succeeded (fixed sources get their own key; fix attempts are not cached).
        Whatever goes wrong here is a warning: the cache never fails a package."""
        if self.cache is None or out.cache is None or out.outputs_digest is None:
            return
        try:
            key, inputs = pkg.cache_key, pkg.cache_inputs
            if any(a.filesChanged for a in out.fix_attempts):
                key, inputs = rekey(pkg)
                out.cache.key, out.cache.inputs = key, inputs
            logs = list(dict.fromkeys(Path(s.log) for s in out.steps if s.log))
            # A flaky test is news of the run that ran it: a hit replays no flaky warning (nor `flaky`).
            replayed = [w for w in warnings if not w.startswith(FLAKY_WARNING)]
            self.cache.save(pkg, key, inputs, out.outputs, cache_view(out, replayed), logs, duration_ms)
            out.cache.stored = True  # handed to the background saver; a failure there is a run warning
        except Exception as exc:  # noqa: BLE001
            out.warnings.append(f"not cached: {type(exc).__name__}: {exc}")

    def plan(self, pkg: Package, out: PackageRecord) -> None:
        """The seed's PLAN phase for one package: the plan exists, or the plan agent writes it."""
        plan = pkg.plan_path
        if plan is None:
            return
        out.plan_path = str(plan)
        if not plan.is_file():
            if self.agents and self.config.agents.plan.command:
                self.on_state(pkg.name, "planning", {})  # a state of its own only when an agent writes the plan
                try:
                    self.agents.write_plan(pkg)
                except AgentError as exc:
                    raise PhaseFailed("planning", str(exc)) from None
            else:
                out.warnings.append(f"no plan at {os.path.relpath(plan, self.config.root)}")
        out.plan_exists = plan.is_file()
        out.plan_hash = file_hash(plan) if out.plan_exists else None

    def fix_attempt(self, pkg: Package, out: PackageRecord, failure: PhaseFailed) -> FixAttempt:
        """The next fix attempt on `failure`, recorded on `out`; raises `failure` when the loop ends (no
        fixer applies, or no attempt is left). `execution.package_tasks` re-runs the phases after it."""
        attempts = out.fix_attempts
        exhausted = len(attempts) >= self.config.agents.fix.maxAttempts
        attempt = None
        if failure.fixable and self.agents and not exhausted:
            tried_builtin = any(a.agentPromptUsed.startswith("builtin:") for a in attempts)
            detail = {"attempt": len(attempts) + 1, "types": failure_types(failure.failures)}
            attempt = self.agents.next_attempt(pkg, len(attempts) + 1, failure.failures, tried_builtin,
                                               on_start=lambda: self.on_state(pkg.name, "fixing", detail))
        if attempt is None:
            if attempts:
                failure.error = f"Quality checks failed after {len(attempts)} fix attempts: {failure.error}"
            raise failure
        attempts.append(attempt)
        if attempt.outsideChanges:
            action = "reverted" if attempt.reverted else "kept"
            out.warnings.append(f"fix attempt {attempt.count} changed files outside {pkg.path} ({action}): {', '.join(attempt.outsideChanges[:10])}")
        return attempt

    def verify_dependencies(self, pkg: Package) -> None:
        """The seed's verifyDependencies: what this package needs must be on the registry already."""
        assert self.publisher is not None
        self.on_state(pkg.name, "verifying", {})
        missing = self.publisher.missing_dependencies(pkg)
        if missing:
            where = display_url(self.publisher.url)
            raise PhaseFailed("dependencies", f"dependencies not on {where}: {', '.join(missing)}")

    def publish(self, pkg: Package, out: PackageRecord) -> None:
        """Publish after the checks passed; the suite package waits for COMPLETE."""
        assert self.publisher is not None
        if pkg.category == "suite":
            out.publish = PublishOutcome("deferred", pkg.version, display_url(self.publisher.url),
                                         message="the suite package is published in COMPLETE, after suite verification")
            return
        reason = untested_reason(self.config, out.tests_passed)
        fixed = any(a.filesChanged for a in out.fix_attempts)
        if not reason and fixed and not self.config.publishing.dryRun:
            if not self.config.publishing.commitFixes or self.agents is None:
                reason = "its fix is not committed (publishing.commitFixes is false)"
            else:
                try:
                    out.fix_commit = self.agents.commit(pkg, out.fix_attempts)
                except AgentError as exc:
                    raise PhaseFailed("publish", str(exc)) from None
        if reason:
            out.publish = PublishOutcome("skipped", pkg.version, display_url(self.publisher.url), message=reason)
            out.warnings.append(f"not published: {reason}")
            return
        self.on_state(pkg.name, "publishing", {})
        result = self.publisher.publish(pkg, package_path(self.logs_dir, pkg.name))
        out.publish = result
        out.timings["publish"] = result.duration_ms
        if result.failed:
            raise PhaseFailed("publish", result.message, result.detail)

    def build(self, pkg: Package, out: PackageRecord) -> str:
        self.on_state(pkg.name, "building", {})
        globs = pkg.output_globs
        before = snapshot(pkg.dir) if globs is None else {}
        outputs: list[str] = []
        for script in phase_scripts(self.config, pkg, "build"):
            if script not in pkg.scripts:
                self.record_step(out, "build", script, None)
                continue
            result = self.run_command(pkg, "build", script, self.pm.run_script(script))
            self.record_step(out, "build", script, result)
            out.timings["build"] += result.duration_ms
            text = result.read_output()
            outputs.append(text)
            diags = typescript_diagnostics(text)
            if "tsc" in pkg.scripts[script]:
                out.typescript_errors = (out.typescript_errors or 0) + len(diags)
            if not result.ok:
                error = format_diagnostic(diags[0]) if diags else first_error_line(text)
                command = " ".join(self.pm.run_script(script)[-2:])
                failures = typescript_failures(diags, command, result.tail) or [Failure("build", error, command=command, output_tail=result.tail)]
                raise PhaseFailed("build", f"`{script}` failed (exit {result.exit_code}): {error}", result.tail,
                                  failures, fixable=self.fixable_runs and not crashed(result))
        out.outputs = detect_outputs(pkg.dir, before) if globs is None else glob_outputs(pkg.dir, globs)
        out.outputs_digest = outputs_digest(pkg.dir, out.outputs)
        return "\n".join(outputs)

    def run_task(self, pkg: Package, out: PackageRecord, script: str) -> None:
        """A turbo.json task beyond the phases (see execution.turbo_tasks): its script; a failure fails the package."""
        result = self.run_command(pkg, "task", script, self.pm.run_script(script))
        self.record_step(out, "task", script, result)
        if not result.ok:
            raise PhaseFailed("task", f"`{script}` failed (exit {result.exit_code}): {first_error_line(result.read_output())}",
                              result.tail)

    def test(self, pkg: Package, out: PackageRecord) -> tuple[bool | None, str]:
        """Run the test scripts (with coverage where the runner can measure it); None when none ran.
        A failing run is run again up to testing.retries times; one that passes on a retry is flaky."""
        self.on_state(pkg.name, "testing", {})
        testing = self.config.testing
        ran, ok, outputs = False, True, []
        out.coverage_note = None  # (out.flaky is kept: a test flaky before a fix re-ran the tests was flaky in this run)
        (pkg.dir / "coverage" / "coverage-summary.json").unlink(missing_ok=True)  # never read a stale summary
        for script in phase_scripts(self.config, pkg, "test"):
            chosen = script
            if testing.enableCoverage and f"{script}:coverage" in pkg.scripts:
                chosen = f"{script}:coverage"
            if chosen not in pkg.scripts:
                self.record_step(out, "test", script, None)
                continue
            args = self._coverage_args(pkg, out, pkg.scripts[chosen]) if testing.enableCoverage and chosen == script else None
            argv, label = self.pm.run_script(chosen, args or []), chosen
            result = self.run_command(pkg, "test", label, argv)
            text = result.read_output()
            rejected = flags_rejected(text) if args and not result.ok else None
            if rejected:  # never fail a package through flags of this tool's: the package's own run counts
                self.record_step(out, "test", f"{chosen} (with coverage flags)", result)
                out.timings["test"] += result.duration_ms
                out.warnings.append(f"`{chosen}` failed with this tool's coverage flags ({rejected}); ran it again as the package defines it")
                out.coverage_note = "not measured: the test runner rejected the coverage flags"
                argv, label = self.pm.run_script(chosen), f"{chosen}-without-coverage"
                result = self.run_command(pkg, "test", label, argv)
                text = result.read_output()
            result, text, failed = self._retry(pkg, out, chosen, label, argv, result, text)
            self.record_step(out, "test", chosen, result)
            out.timings["test"] += result.duration_ms
            ran = True
            outputs.append(text)
            if not result.ok:
                ok = False
                exits = ", ".join(dict.fromkeys(str(c) for c in [*(a.exitCode for a in failed), result.exit_code]))
                tries = f" in all {len(failed) + 1} attempts" if failed else ""  # testing.retries 0: the message of old
                message = f"`{chosen}` failed (exit {exits}){tries}: {first_error_line(text)}"
                hint = self._undeclared_hint(pkg, text)
                if hint:
                    message += f" ({hint})"
                if testing.failOnError:
                    failures = [Failure("test", first_error_line(text), command=f"run {chosen}", output_tail=result.tail)]
                    raise PhaseFailed("test", message, result.tail, failures, fixable=self.fixable_runs and not crashed(result))
                out.warnings.append(message)
            elif failed:
                flaky = out.flaky = out.flaky or FlakyTests(0)
                flaky.attempts += len(failed) + 1
                flaky.failedAttempts.extend(failed)
                flaky.scripts.append(chosen)
                out.warnings.append(f"{FLAKY_WARNING}`{chosen}` failed {len(failed)} time(s), then passed on attempt {len(failed) + 1} "
                                    f"of {testing.retries + 1} (first failure: {failed[0].error})")
        return (ok if ran else None), "\n".join(outputs)

    def _retry(self, pkg: Package, out: PackageRecord, script: str, label: str, argv: list[str], result: CommandResult,
               text: str) -> tuple[CommandResult, str, list[FailedAttempt]]:
        """Run a failed test again, up to testing.retries times, through the same runner (a cancel stops it;
        a missing tool, a timeout or a cancel raises in `_run`, never retried); the last result, its
        output, and the attempts that failed before it. Each failed attempt stays a step with its own log."""
        failed: list[FailedAttempt] = []
        while not result.ok and len(failed) < self.config.testing.retries:
            failed.append(FailedAttempt(script, len(failed) + 1, result.exit_code, first_error_line(text), str(result.log_path)))
            self.record_step(out, "test", f"{script} (attempt {len(failed)})", result)
            out.timings["test"] += result.duration_ms
            self.on_state(pkg.name, "testing", {"retry": len(failed), "script": script})
            result = self.run_command(pkg, "test", f"{label}-retry{len(failed)}", argv)
            text = result.read_output()
        return result, text, failed

    def _coverage_args(self, pkg: Package, out: PackageRecord, script: str) -> list[str] | None:
        """This tool's coverage flags for a test script, only where its runner can measure coverage."""
        runner = test_runner(script)
        if runner is None:
            return None
        missing = missing_coverage_provider(runner, pkg.dir)
        if missing:
            out.coverage_note = f"not measured: {missing}"
            out.warnings.append(f"coverage {out.coverage_note}")
            return None
        return list(COVERAGE_ARGS[runner])

    def _undeclared_hint(self, pkg: Package, output: str) -> str | None:
        """When a test failed to resolve a workspace package it imports without declaring it: say so."""
        for finding in pkg.undeclared_imports:
            if module_not_found(output, finding.imported):
                return f'{finding.message()}; it may not be built yet: declare it, or set undeclaredDependencies "order"'
        return None
