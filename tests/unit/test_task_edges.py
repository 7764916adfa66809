"""Task edges across packages (Turborepo's `pkg#task` and `^task`): a task waits for another package's task."""

from __future__ import annotations

import threading
import time

import pytest

from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.scheduler import Finished, Task, TaskRef, TaskResult, schedule


class EdgeJobs:
    """Jobs of a build, then `tasks` (name → its `after` entries), then a finish; each task sleeps and logs."""

    def __init__(self, tasks: dict[str, dict[str, list[TaskRef]]], fail: tuple[str, str] | None = None,
                 slow: dict[tuple[str, str], float] | None = None):
        self.tasks, self.fail, self.slow = tasks, fail, slow or {}
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, str]] = []

    def _task(self, package: str, name: str, after: list[TaskRef], next_tasks: list[Task]) -> Task:
        def run() -> TaskResult:
            with self.lock:
                self.log.append(("start", package, name))
            time.sleep(self.slow.get((package, name), 0.02))
            ok = self.fail != (package, name)
            with self.lock:
                self.log.append(("end", package, name))
            return TaskResult(ok, built=ok and name == "build", next=next_tasks if ok else [])
        return Task(name, run, list(after))

    def start(self, package: str, on_state):
        jobs, out = self, PackageRecord(package=package)

        class Job:
            def first_task(self) -> Task:
                own = [jobs._task(package, n, after, []) for n, after in jobs.tasks.get(package, {}).items() if n != "build"]
                finish = jobs._task(package, "finish", [t.name for t in own], [])
                return jobs._task(package, "build", jobs.tasks.get(package, {}).get("build", []), [*own, finish])

            def outcome(self) -> PackageRecord:
                out.state = "failed" if jobs.fail and jobs.fail[0] == package else "done"
                return out

        return Job()

    def at(self, kind: str, package: str, task: str) -> int:
        return self.log.index((kind, package, task))


def _run(jobs: EdgeJobs, order: list[str], deps: dict[str, list[str]], slots: int = 4) -> dict[str, PackageRecord]:
    events = list(schedule(order, deps, jobs.start, slots, poll_seconds=0.01))
    return {e.outcome.package: e.outcome for e in events if isinstance(e, Finished)}


def test_a_build_waits_for_another_packages_task_and_nothing_else_does():
    """`web#build` after `api#test` (no dependency between them): web's build starts after api's tests
    ended (not once api finished); an unrelated package does not wait."""
    jobs = EdgeJobs({"api": {"test": ["build"]}, "web": {"build": [("api", "test")], "test": ["build"]},
                     "docs": {"test": ["build"]}}, slow={("api", "test"): 0.4, ("api", "finish"): 0.4})
    outcomes = _run(jobs, ["api", "web", "docs"], {})
    assert all(o.status == "success" for o in outcomes.values())
    assert jobs.at("end", "api", "test") < jobs.at("start", "web", "build") < jobs.at("end", "api", "finish")
    assert jobs.at("start", "docs", "test") < jobs.at("end", "api", "test")


def test_caret_task_waits_for_the_task_of_each_dependency():
    """`^test` is one (dependency, "test") entry per dependency: app's tests start after both libraries'
    tests ended, while its build still waits only for their builds."""
    jobs = EdgeJobs({"lib1": {"test": ["build"]}, "lib2": {"test": ["build"]},
                     "app": {"test": ["build", ("lib1", "test"), ("lib2", "test")]}},
                    slow={("lib1", "test"): 0.3, ("lib2", "test"): 0.5})
    outcomes = _run(jobs, ["lib1", "lib2", "app"], {"app": ["lib1", "lib2"]})
    assert all(o.status == "success" for o in outcomes.values())
    assert jobs.at("start", "app", "build") < jobs.at("end", "lib1", "test")
    assert jobs.at("end", "lib1", "test") < jobs.at("start", "app", "test")
    assert jobs.at("end", "lib2", "test") < jobs.at("start", "app", "test")


def test_a_failed_task_blocks_the_package_waiting_for_it_and_its_dependents():
    """web's test waits (known, not started) when api's test fails: web is blocked, and so is its dependent."""
    jobs = EdgeJobs({"api": {"test": ["build"]}, "web": {"test": ["build", ("api", "test")]}, "site": {}, "docs": {}},
                    fail=("api", "test"), slow={("api", "test"): 0.3})
    outcomes = _run(jobs, ["api", "web", "site", "docs"], {"site": ["web"]})
    assert outcomes["api"].status == "failed"
    for blocked in ("web", "site"):
        assert outcomes[blocked].status == "blocked" and outcomes[blocked].blocked_by == "api"
    assert ("start", "web", "test") not in jobs.log and ("start", "web", "finish") not in jobs.log
    assert ("start", "site", "finish") not in jobs.log
    assert outcomes["docs"].status == "success"


def test_a_task_made_known_after_its_edge_failed_is_blocked_too():
    """The waiting task becomes known (its build ends) only after the other package failed."""
    jobs = EdgeJobs({"api": {}, "web": {"test": ["build", ("api", "build")]}},
                    fail=("api", "build"), slow={("web", "build"): 0.3})
    outcomes = _run(jobs, ["api", "web"], {})
    assert outcomes["api"].status == "failed"
    assert outcomes["web"].status == "blocked" and outcomes["web"].blocked_by == "api"
    assert ("start", "web", "test") not in jobs.log


def test_an_edge_is_met_by_a_package_outside_the_selection_or_one_that_succeeded_without_that_task():
    jobs = EdgeJobs({"web": {"test": ["build", ("gone", "test"), ("api", "lint")]}, "api": {}},
                    slow={("api", "finish"): 0.2})
    outcomes = _run(jobs, ["api", "web"], {})
    assert all(o.status == "success" for o in outcomes.values())
    assert jobs.at("end", "api", "finish") < jobs.at("start", "web", "test")


def test_a_cycle_of_task_edges_is_a_stall_never_a_silent_end():
    jobs = EdgeJobs({"a": {"build": [("b", "build")]}, "b": {"build": [("a", "build")]}})
    with pytest.raises(RuntimeError, match="stalled"):
        _run(jobs, ["a", "b"], {})
