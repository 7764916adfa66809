"""One typed, versioned record of what happened to a package in a run.

The execution layer fills it while the package's tasks run (`execution/package_tasks.py`,
`execution/package_pipeline.py`) and produces nothing else; every other shape is a view of it,
written by one function each: the seed's report JSON (`reporting/reports.py::package_report`), the
materialization metadata (`orchestration/assets.py::materialize_metadata`), the cache manifest
(`cache_view` / `restore_cached` below), the CLI's summary and its progress lines
(`orchestration/run_events.py::progress_payload`).

The record travels as Dagster structured data: in the materialization's metadata for a package that
succeeded, and in an `AssetObservation` for one that failed or was blocked. A stored record that does
not validate fails loudly (`RecordError`) instead of leaving a report field blank.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator

from package_builder_dagster.cache.package_cache import CacheInfo
from package_builder_dagster.errors import RecordError
from package_builder_dagster.execution.fix_agents import FixAttempt
from package_builder_dagster.execution.output_parsers import Failure
from package_builder_dagster.execution.publishing import PublishOutcome
from package_builder_dagster.execution.steps import FlakyTests, StepRun

RECORD_VERSION = 3  # 3: one record type (checks carry their metadata); 2: `flaky`; older versions still read
RECORD_KEY = "package_builder/record"  # the metadata entry that holds it
TERMINAL = ("done", "failed", "blocked")
MAX_FAILURES = 20  # failures a stored record keeps (without their output tails)


class CheckResult(BaseModel):
    """One quality gate: passed, or not; `ran` False when the package has nothing to check."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool
    ran: bool
    description: str
    metadata: dict[str, Any] = {}  # the gate's figures (the output tail is not stored)
    warning_only: bool = False  # a warn-only gate, or failed while testing.failOnError is false
    failures: list[Failure] = Field(default_factory=list, exclude=True)  # for the fix loop, this run only

    @field_serializer("metadata")
    def _stored_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in metadata.items() if k not in ("output_tail", "log")}


class PackageRecord(BaseModel):
    """A package's outcome in one run: pending while it runs, then done (succeeded), failed or blocked."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1, 2, 3] = RECORD_VERSION
    package: str
    state: Literal["pending", "done", "failed", "blocked"] = "pending"
    time: str = ""  # when it ended
    phase: str | None = None  # the phase that failed
    error: str | None = None  # first error line
    blocked_by: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration_ms: int = 0  # its own commands' time: how long at least one of its commands ran (no waits)
    span_ms: int = 0  # version 3: its first task's start to its end (waits for dependencies and slots included)
    timings: dict[str, int] = Field(default_factory=lambda: {"build": 0, "test": 0, "quality": 0, "publish": 0})
    coverage: dict[str, float] | None = None
    coverage_note: str | None = None  # why coverage was not measured, when the tool knows
    lint_errors: int | None = None
    lint_warnings: int | None = None
    typescript_errors: int | None = None
    tests_passed: bool | None = None  # None: no test ran
    checks: dict[str, CheckResult] = {}
    steps: list[StepRun] = []
    warnings: list[str] = []
    failures: list[Failure] = []  # what remained when it failed
    fix_attempts: list[FixAttempt] = []
    fix_commit: str | None = None  # the commit of the fixes, when publishing committed them
    plan_path: str | None = None
    plan_exists: bool = False
    plan_hash: str | None = None
    publish: PublishOutcome | None = None
    outputs_count: int = 0
    outputs_digest: str | None = None  # digest of the outputs' paths and contents
    cache: CacheInfo | None = None  # what the artifact cache did for it
    priority_basis: str | None = None  # how the run ordered ready work, e.g. "critical-path with default weights"
    serialized: list[dict[str, Any]] = []  # its tasks kept apart from others' (output races)
    rewrote_outputs: list[str] = []  # its tasks after the build whose outputs changed under them
    flaky: FlakyTests | None = None  # tests that failed, then passed on a retry (testing.retries)
    states: list[tuple[str, str]] = []  # (state, time) of each change in the run, "started" first
    slot_wait_ms: int = 0  # how long its first task waited for a free slot
    # This run only, never stored:
    error_detail: str | None = Field(default=None, exclude=True)  # the failed command's output tail
    outputs: list[str] = Field(default_factory=list, exclude=True)  # its build outputs, relative to its folder
    step: str | None = Field(default=None, exclude=True)  # the Dagster step that ran it (set when read back)

    @model_validator(mode="before")
    @classmethod
    def _older_versions(cls, data: Any) -> Any:
        """Records before version 3 kept checks without their name and metadata."""
        if isinstance(data, dict) and isinstance(data.get("checks"), dict):
            data = {**data, "checks": {n: {"name": n, **c} if isinstance(c, dict) and "name" not in c else c
                                       for n, c in data["checks"].items()}}
        return data

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> PackageRecord:
        if self.version == 1 and self.flaky is not None:
            raise ValueError("a version 1 record has no `flaky`")
        return self

    @field_serializer("failures")
    def _stored_failures(self, failures: list[Failure]) -> list[dict[str, Any]]:
        return [{**dataclasses.asdict(f), "output_tail": None} for f in failures[:MAX_FAILURES]]

    @field_serializer("publish")
    def _stored_publish(self, publish: PublishOutcome | None) -> dict[str, Any] | None:
        return None if publish is None else {**dataclasses.asdict(publish), "detail": None}

    def close(self, time: str) -> PackageRecord:
        """End the record at `time` (unless it ended already): its span, its commands' time, its outputs' count."""
        self.end_time = self.end_time or time
        self.time = self.end_time
        self.start_time = self.start_time or self.end_time
        self.span_ms = max(0, _ms_between(self.start_time, self.end_time))
        self.duration_ms = busy_ms(self.steps)
        self.outputs_count = len(self.outputs) or self.outputs_count
        return self

    @property
    def ok(self) -> bool:
        return self.state == "done"

    @property
    def status(self) -> str:
        """The report's status: success, failed or blocked (pending while it runs)."""
        return "success" if self.state == "done" else self.state

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _ms_between(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000)


def busy_ms(steps: list[StepRun]) -> int:
    """How long at least one of the commands ran (the union of their intervals: a package's tests and
    checks run side by side, so their sum would count overlaps twice)."""
    spans = sorted((datetime.fromisoformat(s.start), s.duration_ms) for s in steps if s.start and s.status in ("passed", "failed"))
    total, reach = 0.0, None
    for start, ms in spans:
        end = start + timedelta(milliseconds=ms)
        if reach is None or start >= reach:
            total += ms
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds() * 1000
            reach = end
    return int(total)


def check_result(name: str, passed: bool, ran: bool, description: str, metadata: dict[str, Any] | None = None,
                 warning_only: bool = False, failures: list[Failure] | None = None) -> CheckResult:
    """A gate's result (positional, as the checks write it)."""
    return CheckResult(name=name, passed=passed, ran=ran, description=description, metadata=metadata or {},
                       warning_only=warning_only, failures=failures or [])


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


# ---- the cache manifest's view -------------------------------------------------------------------

CACHED = {"timings", "coverage", "coverage_note", "lint_errors", "lint_warnings", "typescript_errors", "tests_passed",
          "warnings", "checks", "steps"}


def cache_view(record: PackageRecord, warnings: list[str]) -> dict[str, Any]:
    """What a cache hit replays: the record's results and the build's `warnings` (log paths as file names)."""
    view = record.model_dump(mode="json", include=CACHED)
    view["warnings"] = list(warnings)
    for step in view["steps"]:
        step["log"] = Path(step["log"]).name if step.get("log") else None
    return view


def restore_cached(record: PackageRecord, view: dict[str, Any], logs: dict[str, Path]) -> None:
    """Fill `record` from a cache view: the checks marked as coming from the cache, the steps as restored
    (their logs replayed into this run's folder), no time spent."""
    cached = PackageRecord.model_validate({"package": record.package, **{k: v for k, v in view.items() if k in CACHED}})
    record.timings.update({k: 0 for k in ("build", "test", "quality")})
    for name in ("coverage", "coverage_note", "lint_errors", "lint_warnings", "typescript_errors", "tests_passed"):
        setattr(record, name, getattr(cached, name))
    record.warnings.extend(cached.warnings)
    for name, check in cached.checks.items():
        record.checks[name] = check.model_copy(update={"description": f"from cache: {check.description}",
                                                       "metadata": {**check.metadata, "from_cache": True}})
    for step in cached.steps:
        log = logs.get(step.log or "")
        record.steps.append(dataclasses.replace(step, status="restored", duration_ms=0, log=str(log) if log else None))
