"""The steps of a package in a run: each command it ran, tests that passed only on a retry, and the
failure that stopped a phase."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from package_builder_dagster.execution.output_parsers import Failure

FLAKY_WARNING = "flaky test: "  # how the warning of a test that passed on a retry begins


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class PhaseFailed(Exception):
    """A phase failed; `failures` and `fixable` say whether the fix loop can take it on."""

    def __init__(self, phase: str, error: str, detail: str | None = None, failures: list[Failure] | None = None, fixable: bool = False):
        super().__init__(error)
        self.phase, self.error, self.detail = phase, error, detail
        self.failures, self.fixable = failures or [], fixable and bool(failures)


@dataclass
class StepRun:
    phase: str
    script: str
    status: Literal["passed", "failed", "not-run", "restored"]
    duration_ms: int = 0
    log: str | None = None
    exit_code: int | None = None
    start: str | None = None  # when the command started (ISO), for the timeline


@dataclass
class FailedAttempt:
    """A test run that failed before a retry passed: its script, attempt number (1 = the first run),
    exit code, first error line and log."""

    script: str
    attempt: int
    exitCode: int | None
    error: str
    log: str | None = None


@dataclass
class FlakyTests:
    """Tests that failed and then passed on a retry (testing.retries): `attempts` counts the runs of the
    flaky scripts (the passing ones included), `failedAttempts` the runs that failed."""

    attempts: int
    failedAttempts: list[FailedAttempt] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
