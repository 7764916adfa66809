"""The unit tier's guard: a unit test runs in this process, in seconds, so a test (or one of its fixtures)
that starts a subprocess or creates a Dagster instance fails, naming what it called.

Each call is refused where it is made (an exception that `except Exception` does not catch) and recorded,
so a test that swallows the refusal still fails. Tests that need either belong in tests/integration/.
"""

from __future__ import annotations

import _posixsubprocess
import asyncio
import asyncio.subprocess
import inspect
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent  # the unit tier's folder
_REFUSED: list[str] = []  # what the running test called, in order


class UnitTierViolation(BaseException):
    """A unit test started a subprocess or a Dagster instance (a BaseException: `except Exception` lets it through)."""


def _refuse(label: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        _REFUSED.append(label)
        raise UnitTierViolation(f"a unit test may not call {label}: move the test to tests/integration/")
    refused.__wrapped__ = original  # type: ignore[attr-defined]
    return refused


def _targets() -> list[tuple[Any, str, str]]:
    """(owner, attribute, label) of every way to start a process or a Dagster instance."""
    import dagster as dg
    import dagster._core.test_utils as dagster_test_utils

    targets = [
        (subprocess.Popen, "__init__", "subprocess.Popen"),
        (_posixsubprocess, "fork_exec", "_posixsubprocess.fork_exec (multiprocessing)"),
        (asyncio, "create_subprocess_exec", "asyncio.create_subprocess_exec"),
        (asyncio, "create_subprocess_shell", "asyncio.create_subprocess_shell"),
        (asyncio.subprocess, "create_subprocess_exec", "asyncio.create_subprocess_exec"),
        (asyncio.subprocess, "create_subprocess_shell", "asyncio.create_subprocess_shell"),
        (dagster_test_utils, "instance_for_test", "instance_for_test"),
        (dg.DagsterInstance, "__init__", "DagsterInstance()"),
    ]
    targets += [(os, name, f"os.{name}") for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp", "popen")
                if hasattr(os, name)]
    targets += [(dg.DagsterInstance, name, f"DagsterInstance.{name}") for name in ("get", "ephemeral", "local_temp", "from_config",
                                                                                  "from_ref")]
    return targets


@contextmanager
def _refusing() -> Iterator[None]:
    """Every target replaced by a refusal while the block runs, then restored."""
    saved = []
    for owner, name, label in _targets():
        raw = inspect.getattr_static(owner, name)
        saved.append((owner, name, raw, name in vars(owner)))
        if isinstance(raw, (staticmethod, classmethod)):
            setattr(owner, name, staticmethod(_refuse(label, raw.__func__)))
        else:
            setattr(owner, name, _refuse(label, raw))
    try:
        yield
    finally:
        for owner, name, raw, own in reversed(saved):
            if own:
                setattr(owner, name, raw)
            else:  # inherited: drop the refusal so the base class's attribute shows again
                delattr(owner, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """The refusals hold through a unit test's setup, call and teardown (its fixtures included); pytest calls
    this hook for every test of the session, so the other tiers' tests are let through."""
    if not item.path.is_relative_to(HERE):
        return (yield)
    _REFUSED.clear()
    with _refusing():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """A phase in which the test called a refused function fails, even if the test caught the refusal."""
    report = yield
    if _REFUSED:
        report.outcome = "failed"
        report.longrepr = f"unit tier: {', '.join(dict.fromkeys(_REFUSED))} called during {report.when}; " \
                          "a unit test runs in-process (move it to tests/integration/)"
    _REFUSED.clear()  # each call is reported once, in the phase that made it
    return report
