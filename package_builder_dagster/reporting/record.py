"""One typed, versioned record of what happened to a package in a run: the writer (the package step)
and every reader (reports, the CLI's summary, suite publishing) use this model, and a record that
does not validate fails loudly instead of leaving a report field blank.

The record travels as Dagster structured data: in the materialization's metadata for a package
that succeeded, and in an `AssetObservation` for one that failed or was blocked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from package_builder_dagster.execution.fix_agents import FixAttempt
from package_builder_dagster.cache.package_cache import CacheInfo
from package_builder_dagster.execution.output_parsers import Failure
from package_builder_dagster.execution.package_pipeline import FlakyTests, PackageOutcome, StepRun
from package_builder_dagster.execution.publishing import PublishOutcome
from package_builder_dagster.errors import RecordError

RECORD_VERSION = 2  # 2: `flaky` (tests that passed on a retry); version 1 records (without it) still read
RECORD_KEY = "package_builder/record"  # the metadata entry that holds it
TERMINAL = ("done", "failed", "blocked")


class CheckSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    ran: bool
    description: str
    warning_only: bool = False


class PackageRecord(BaseModel):
    """A package's outcome in one run: done (succeeded), failed or blocked."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1, 2] = RECORD_VERSION
    package: str
    state: Literal["done", "failed", "blocked"]
    time: str
    phase: str | None = None
    error: str | None = None
    blocked_by: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration_ms: int = 0
    timings: dict[str, int] = {}
    coverage: dict[str, float] | None = None
    coverage_note: str | None = None
    lint_errors: int | None = None
    lint_warnings: int | None = None
    typescript_errors: int | None = None
    tests_passed: bool | None = None
    checks: dict[str, CheckSummary] = {}
    steps: list[StepRun] = []
    warnings: list[str] = []
    failures: list[Failure] = []  # what remained when it failed (the first 20, without output tails)
    fix_attempts: list[FixAttempt] = []
    fix_commit: str | None = None
    plan_path: str | None = None
    plan_exists: bool = False
    plan_hash: str | None = None
    publish: PublishOutcome | None = None
    outputs_count: int = 0
    outputs_digest: str | None = None
    cache: CacheInfo | None = None
    priority_basis: str | None = None  # how the run ordered ready work, e.g. "critical-path with default weights"
    serialized: list[dict[str, Any]] = []  # its tasks kept apart from others' (output races): task, reason, heldBack, waitedFor
    rewrote_outputs: list[str] = []  # its tasks after the build whose outputs changed under them (read by the next run)
    flaky: FlakyTests | None = None  # version 2: tests that failed, then passed on a retry (testing.retries)
    states: list[tuple[str, str]] = []  # version 2: (state, time) of each change in the run, "started" first
    slot_wait_ms: int = 0  # version 2: how long its first task waited for a free slot
    step: str | None = None  # the Dagster step that ran it (set when read back)

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> "PackageRecord":
        if self.version == 1 and self.flaky is not None:
            raise ValueError("a version 1 record has no `flaky`")
        return self

    @property
    def status(self) -> str:
        """The report's status: success, failed or blocked."""
        return "success" if self.state == "done" else self.state

    @classmethod
    def from_outcome(cls, outcome: PackageOutcome, time: str) -> PackageRecord:
        state = {"success": "done"}.get(outcome.status, outcome.status)
        return cls(
            package=outcome.name, state=state, time=time, phase=outcome.phase, error=outcome.error,
            blocked_by=outcome.blocked_by, start_time=outcome.start_time, end_time=outcome.end_time,
            duration_ms=outcome.duration_ms, timings=dict(outcome.timings), coverage=outcome.coverage,
            coverage_note=outcome.coverage_note, lint_errors=outcome.lint_errors, lint_warnings=outcome.lint_warnings,
            typescript_errors=outcome.typescript_errors, tests_passed=outcome.tests_passed,
            checks={n: CheckSummary(passed=c.passed, ran=c.ran, description=c.description, warning_only=c.warning_only)
                    for n, c in outcome.checks.items()},
            steps=list(outcome.steps), warnings=list(outcome.warnings),
            failures=[Failure(f.type, f.message, f.file, f.line, f.rule, f.command) for f in outcome.failures[:20]],
            fix_attempts=list(outcome.fix_attempts), fix_commit=outcome.fix_commit, plan_path=outcome.plan_path,
            plan_exists=outcome.plan_exists, plan_hash=outcome.plan_hash,
            publish=_without_detail(outcome.publish), outputs_count=len(outcome.outputs),
            outputs_digest=outcome.outputs_digest, cache=outcome.cache, priority_basis=outcome.priority_basis,
            serialized=[dict(e) for e in outcome.serialized], rewrote_outputs=list(outcome.rewrote_outputs),
            flaky=outcome.flaky, states=list(outcome.states), slot_wait_ms=outcome.slot_wait_ms,
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"step"})


def _without_detail(publish: PublishOutcome | None) -> PublishOutcome | None:
    if publish is None:
        return None
    return PublishOutcome(**{**publish.__dict__, "detail": None})


def parse_record(data: Any, where: str) -> PackageRecord:
    """A stored record, validated; RecordError naming `where` when it is not one this version reads."""
    try:
        return PackageRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise RecordError(f"unreadable package record in {where}: {field}: {first['msg']}") from None


def blocked_record(package: str, time: str, blocked_by: str | None, error: str) -> PackageRecord:
    """The record of a package that never ran (a failed dependency, or the run ended first)."""
    return PackageRecord(package=package, state="blocked" if blocked_by else "failed", time=time, blocked_by=blocked_by,
                         error=error, phase="blocked" if blocked_by else None)
