"""Interrupts keep what finished: a started package is finished before others start (critical path
permitting), a Ctrl-C keeps the packages that finished, and a killed CLI's run gets its reports."""

from __future__ import annotations

from package_builder_dagster.execution.priority import task_priorities
from package_builder_dagster.execution.scheduler import schedule

from .test_scheduler import Recorder

NAMES = ["p0", "p1", "p2", "p3", "p4"]


# -- (a) the scheduler: a started package finishes before another starts ---------------------------

def _run_scheduler(order: list[str], deps: dict[str, list[str]], checks: tuple[str, ...]) -> Recorder:
    rec = Recorder(sleep=0.01, after_build=("test", *(f"check:{c}" for c in checks)))
    prio = task_priorities(order, deps, {}, checks)
    list(schedule(order, deps, rec.start, 1, priority=lambda p, t: prio.get((p, t), 0.0), poll_seconds=0.01))
    return rec


def test_one_slot_finishes_each_started_package_before_starting_the_next():
    rec = _run_scheduler(NAMES, {}, ("lint", "typescript"))
    started = [name for kind, name, _ in rec.log if kind == "start"]
    # each package's tasks (build, test, checks, finish) run together: done by T = all its tasks ended by T
    assert started == [n for n in NAMES for _ in range(5)], started


def test_the_critical_path_still_goes_before_finishing_a_package():
    # a's build heads the chain a → b → c: b's build (more work waits on it) goes before a's tests
    rec = _run_scheduler(["a", "b", "c", "x"], {"b": ["a"], "c": ["b"]}, ("lint",))
    assert rec.index("start", "b", "build") < rec.index("start", "a", "test")
    assert rec.index("end", "c", "finish") < rec.index("start", "x", "build")  # x: no chain, after the chain


# -- (b) and (c): the CLI -----------------------------------------------------------------------------
