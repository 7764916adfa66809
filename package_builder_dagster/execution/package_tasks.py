"""One package's work as tasks for the scheduler: build → (tests, each check) → conclude → finish.

- `build`: the plan, verifyDependencies, a cache restore (a hit leaves nothing to run), the build.
- `test` and `check:<name>`: wait for the build only (coverage also for the tests, whose output it
  reads); they run side by side with each other and with other packages' work.
- `conclude`: after all of them, the checks' verdict, and the fix loop when something failed that a
  fixer may fix: after each edit, the build, then the tests, then the checks again, one after
  another, through the same functions the `build`, `test` and `check:<name>` tasks run.
- `finish`: waits for the package's dependencies to succeed; publishes and saves to the cache.

A build or test failure no fixer can take on fails the package at once.

Each test and check task compares the stat signature of the package's outputs (inode, size, mtime)
before and after it: one that rewrote or removed them (a `pretest` that cleans dist/, a test that
runs the build) is recorded in `rewrote_outputs` (the next run keeps it apart from dependents, see
`execution.output_hazards`), warned about when its script did not say so, and the outputs' digest
is taken again. No Dagster here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from package_builder_dagster.cache.digest import outputs_digest
from package_builder_dagster.cache.outputs import glob_outputs
from package_builder_dagster.discovery.config import QualityCheck, default_checks
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.execution.output_hazards import signature
from package_builder_dagster.execution.package_pipeline import PackagePipeline
from package_builder_dagster.execution.record import CheckResult, PackageRecord
from package_builder_dagster.execution.scheduler import Task, TaskResult
from package_builder_dagster.execution.steps import PhaseFailed, now_iso
from package_builder_dagster.execution.turbo_tasks import turbo_edges


class PackageTasks:
    """The tasks of one package in one run, sharing one outcome (guarded by a lock where they write together)."""

    def __init__(self, pipeline: PackagePipeline, pkg: Package, verify_before_build: bool = True,
                 marked: set[str] | frozenset[str] = frozenset(), remembered: list[str] | None = None):
        """`verify_before_build`: publishing's verifyDependencies before the build (its dependencies
        published first); False checks them before publishing instead (testsAfter "all-builds").
        `marked`: its tasks known (script text, history) to rewrite its outputs; `remembered`: those
        an earlier run saw rewrite them (kept in the record while they do not run)."""
        self.pipeline, self.pkg, self.verify_before_build = pipeline, pkg, verify_before_build
        self.out = PackageRecord(package=pkg.name)
        self.lock = threading.Lock()
        self.failure: PhaseFailed | None = None  # a failure left to the fix loop
        self.restored = False
        self.first_warning = 0
        self.started: float | None = None
        self.test_output = ""
        self.tests_ok: bool | None = None
        self.checks: dict[str, CheckResult] = {}
        self.first_digest: str | None = None
        self.checking = False  # a check has started
        self.marked, self.remembered = set(marked), list(remembered or [])
        self.active: dict[str, set[str]] = {}  # running observed task → the package's tasks it overlapped
        self.ran: set[str] = set()  # observed tasks that ran

    # -- what the scheduler calls ------------------------------------------------------------------
    def first_task(self) -> Task:
        """Its build; with turbo.json, after the other packages' tasks its build (and what runs in it) waits for."""
        turbo = self.pkg.turbo
        refs = [r for t in (turbo.tasks if turbo else []) if t.stage == "build" or t.phase == "build" for r in t.refs]
        return Task("build", self._guard(self.build), list(dict.fromkeys(r for r in refs if r[0] != self.pkg.name)))

    def outcome(self) -> PackageRecord:
        if self.out.end_time is None:
            self._rewrote()
            self.out.close(now_iso())
        return self.out

    # -- the tasks ------------------------------------------------------------------------------------
    def build(self) -> TaskResult:
        self.started, self.out.start_time = time.monotonic(), now_iso()
        out, pkg, pipeline = self.out, self.pkg, self.pipeline
        self.restored = pipeline.prepare(pkg, out, verify=self.verify_before_build)
        self.first_warning = len(out.warnings)
        if self.restored:
            self.out.rewrote_outputs = sorted(self.remembered)  # nothing ran: what an earlier run saw stands
            return TaskResult(True, built=True, next=self._closing([]))
        try:
            pipeline.build(pkg, out)
        except PhaseFailed as failure:
            if not self._may_fix(failure):
                raise
            self.failure = failure
            return TaskResult(True, built=False, next=self._closing([]))
        self.first_digest = out.outputs_digest
        after = [Task("test", self._guard(self.test))]
        for gate in self._gates():
            waits = ["test"] if gate.builtin == "coverage" else []
            after.append(Task(f"check:{gate.name}", self._guard(self._check_task(gate)), waits))
        if pkg.turbo is not None:
            after = turbo_edges(pkg, after, self._turbo_task)
        return TaskResult(True, built=True, next=after + self._closing([t.name for t in after]))

    def _turbo_task(self, script: str) -> Callable[[], TaskResult]:
        """A turbo.json task beyond the phases, run after the build (a bundle, type declarations)."""
        def run() -> TaskResult:
            self.pipeline.run_task(self.pkg, self.out, script)
            if self.pkg.output_globs is not None:  # its declared outputs join the package's (for the cache)
                with self.lock:
                    self.out.outputs = glob_outputs(self.pkg.dir, self.pkg.output_globs)
                    self.out.outputs_digest = outputs_digest(self.pkg.dir, self.out.outputs)
                    self.first_digest = self.first_digest and self.out.outputs_digest
            return TaskResult(True)
        return self._guard(run)

    def test(self) -> TaskResult:
        with self._observed("test"):
            try:
                self._run_tests()
            except PhaseFailed as failure:
                if not self._may_fix(failure):
                    raise
                with self.lock:
                    self.failure = self.failure or failure
        return TaskResult(True)

    def _check_task(self, gate: QualityCheck) -> Callable[[], TaskResult]:
        def run() -> TaskResult:
            with self._observed(f"check:{gate.name}"):
                self._run_check(gate)
            return TaskResult(True)  # the verdict (naming every failed check) comes when all have ended
        return run

    def conclude(self) -> TaskResult:
        """The checks' verdict; the fix loop for what failed (it raises when the loop ends unfixed)."""
        failure = self.failure
        if failure is None:
            try:
                self._judge()
            except PhaseFailed as found:
                failure = found
        while failure is not None:
            failure = self._fix(failure)
        return TaskResult(True)

    # -- the phases, as the tasks run them and as the fix loop runs them again ------------------------
    def _run_tests(self) -> None:
        """The package's tests; raises PhaseFailed (the tests then count as failed)."""
        try:
            self.tests_ok, self.test_output = self.pipeline.test(self.pkg, self.out)
        except PhaseFailed:
            self.tests_ok = self.out.tests_passed = False
            raise
        self.out.tests_passed = self.tests_ok

    def _run_check(self, gate: QualityCheck) -> None:
        """One quality check; the package's first one of a round also says `checking`."""
        with self.lock:
            first, self.checking = not self.checking, True
        if first:  # one state change for the package's checks (each event costs a write to the event log)
            self.pipeline.on_state(self.pkg.name, "checking", {})
        check = self.pipeline.gates.run_check(self.pkg, self.out, gate, self.test_output, self.tests_ok)
        with self.lock:
            self.checks[gate.name] = check

    def _judge(self) -> None:
        """The verdict on the checks that ran, in the gates' order (raises PhaseFailed)."""
        with self.lock:
            checks = [self.checks[g.name] for g in self._gates() if g.name in self.checks]
        self.pipeline.gates.judge(self.out, checks)

    def _fix(self, failure: PhaseFailed) -> PhaseFailed | None:
        """One fix attempt on `failure`; the failure that remains (None when fixed). Raises when the loop ends."""
        attempt = self.pipeline.fix_attempt(self.pkg, self.out, failure)
        if not attempt.filesChanged:
            return failure  # nothing in the package changed: nothing to re-run, the same failures stand
        # The package's own edits are always checked, even when the attempt counts as failed (edits
        # outside reverted, or a timeout); otherwise they would stay unchecked by any later attempt.
        remaining = self._evaluate()
        attempt.fixed = remaining is None and not (attempt.outsideChanges or attempt.timedOut)
        return remaining

    def _evaluate(self) -> PhaseFailed | None:
        """After a fix: the build, the tests, each check and their verdict again, one after another;
        the failure that stopped them, or None."""
        out = self.out
        out.typescript_errors = out.lint_errors = out.lint_warnings = None
        out.coverage, out.checks = None, {}
        with self.lock:
            self.checks, self.checking = {}, False
        try:
            self.pipeline.build(self.pkg, out)
            self._run_tests()
            for gate in self._gates():
                self._run_check(gate)
            self._judge()
        except PhaseFailed as failure:
            return failure
        return None

    def _gates(self) -> list[QualityCheck]:
        return self.pkg.quality_checks or default_checks()

    def finish(self) -> TaskResult:
        """After the dependencies succeeded: publish, then save to the cache (never on a hit)."""
        out, pkg, pipeline = self.out, self.pkg, self.pipeline
        evaluated_warnings = out.warnings[self.first_warning:]
        if self.first_digest and out.outputs_digest != self.first_digest:
            out.warnings.append("its fix changed its build outputs after dependents may have built against the earlier ones")
        if pipeline.publisher:
            if not self.verify_before_build:
                pipeline.verify_dependencies(pkg)
            pipeline.publish(pkg, out)
        out.state = "done"
        if not self.restored:
            pipeline.save(pkg, out, evaluated_warnings, int((time.monotonic() - (self.started or time.monotonic())) * 1000))
        self.outcome()
        return TaskResult(True)

    # -- helpers ------------------------------------------------------------------------------------
    @contextmanager
    def _observed(self, task: str) -> Iterator[None]:
        """Run a task after the build, then see whether the package's outputs changed under it."""
        files = [f for f in self.out.outputs if f not in self._late_outputs()]
        before = signature(self.pkg.dir, files) if files else None
        with self.lock:
            for others in self.active.values():
                others.add(task)
            self.active[task] = set(self.active)
            self.ran.add(task)
        try:
            yield
        finally:
            with self.lock:
                overlapped = self.active.pop(task, set())
            if before is not None:
                self._compare(task, files, before, overlapped)

    def _compare(self, task: str, files: list[str], before: dict, overlapped: set[str]) -> None:
        after = signature(self.pkg.dir, files)
        if after == before:
            return
        if task not in self.marked and overlapped & self.marked:
            return  # a task of its own known to rewrite them ran at the same time: that one did
        label = task.removeprefix("check:")
        changed = [f for f in files if after.get(f) != before.get(f)]
        missing = [f for f in files if after.get(f) is None]
        with self.lock:
            out = self.out
            if task not in out.rewrote_outputs:
                out.rewrote_outputs.append(task)
            if missing:
                out.warnings.append(f"its {label} removed {len(missing)} of its build outputs ({missing[0]}…) after its build "
                                    "and did not write them again")
            else:
                try:
                    out.outputs_digest = outputs_digest(self.pkg.dir, files)
                    if self.first_digest:
                        self.first_digest = out.outputs_digest  # rewritten by its own scripts, not by a fix
                except (OSError, ValueError):
                    pass
            if task not in self.marked:
                out.warnings.append(
                    f"its {label} rewrote its build outputs after its build ({len(changed)} file(s), e.g. {changed[0]}) while "
                    "dependents could read them; the next runs keep dependents' tasks apart from it (learned from this run)")

    def _late_outputs(self) -> set[str]:
        """The outputs of its turbo.json tasks that run after the build (written then, by design)."""
        late = [g for t in (self.pkg.turbo.extra() if self.pkg.turbo else []) for g in t.definition.outputs]
        return set(glob_outputs(self.pkg.dir, late)) if late else set()

    def _rewrote(self) -> None:
        """The record's `rewrote_outputs`: what this run saw, and what an earlier run saw of tasks that did not run."""
        with self.lock:
            kept = [t for t in self.remembered if t not in self.ran and t not in self.out.rewrote_outputs]
            self.out.rewrote_outputs = sorted(set(self.out.rewrote_outputs) | set(kept))

    def _closing(self, after: list[str]) -> list[Task]:
        return [Task("conclude", self._guard(self.conclude), after), Task("finish", self._guard(self.finish), ["conclude"])]

    def _may_fix(self, failure: PhaseFailed) -> bool:
        """Whether the fix loop may take this failure on: a fixer could apply and attempts are left."""
        agents, fix = self.pipeline.agents, self.pipeline.config.agents.fix
        if not failure.fixable or agents is None or len(self.out.fix_attempts) >= fix.maxAttempts:
            return False
        builtin_lint = "eslint" in fix.builtinFixers and any(f.type == "lint" for f in failure.failures)
        return bool(fix.command) or builtin_lint

    def _guard(self, task: Callable[[], TaskResult]) -> Callable[[], TaskResult]:
        """The task, with any failure recorded on the package's outcome (a task never raises)."""
        def run() -> TaskResult:
            try:
                return task()
            except PhaseFailed as failure:
                with self.lock:
                    if self.out.state != "failed":
                        out = self.out
                        out.state, out.phase, out.error, out.error_detail = "failed", failure.phase, failure.error, failure.detail
                        out.failures = failure.failures
            except Exception as exc:  # a bug or an OS error must fail this package only
                with self.lock:
                    self.out.state, self.out.phase = "failed", self.out.phase or "internal"
                    self.out.error = f"{type(exc).__name__}: {exc}"
            self.outcome()
            return TaskResult(False)
        return run
