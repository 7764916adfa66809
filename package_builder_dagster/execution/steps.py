"""The steps of a package in a run: each command it ran, and tests that passed only on a retry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

FLAKY_WARNING = "flaky test: "  # how the warning of a test that passed on a retry begins


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
