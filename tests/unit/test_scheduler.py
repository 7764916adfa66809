"""The task scheduler with real threads: dependency order, the slot limit, failure isolation, testsAfter, priority."""

from __future__ import annotations

import threading
import time

from package_builder_dagster.execution.priority import PackageWeights, critical_path, task_priorities
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.scheduler import Finished, StateChange, Task, TaskResult, schedule

DEPS = {
    "a": [], "b": [], "c": ["a"], "d": ["c"], "e": ["b"], "f": ["d", "e"], "g": [], "h": ["g"],
}
ORDER = ["a", "b", "g", "c", "e", "h", "d", "f"]


class Recorder:
    """Jobs whose tasks sleep and log ("start"/"end", package, task); `fail` maps package → failing task."""

    def __init__(self, fail: dict[str, str] | None = None, sleep: float = 0.05, after_build: tuple[str, ...] = ("test",),
                 slow: dict[tuple[str, str], float] | None = None):
        self.fail, self.sleep, self.after_build, self.slow = fail or {}, sleep, after_build, slow or {}
        self.lock = threading.Lock()
        self.active, self.peak, self.log = 0, 0, []

    def _task(self, name: str, task: str, next_tasks: list[Task]) -> Task:
        def run() -> TaskResult:
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
                self.log.append(("start", name, task))
            time.sleep(self.slow.get((name, task), self.sleep) if task != "finish" else 0)
            with self.lock:
                self.active -= 1
                self.log.append(("end", name, task))
            ok = self.fail.get(name) != task
            return TaskResult(ok, built=ok and task == "build", next=next_tasks if ok else [])
        return Task(task, run)

    def start(self, name: str, on_state):
        recorder = self

        class Job:
            out = PackageRecord(package=name)

            def first_task(self) -> Task:
                after = [recorder._task(name, t, []) for t in recorder.after_build]
                finish = recorder._task(name, "finish", [])
                finish.after = [t.name for t in after]
                return recorder._task(name, "build", after + [finish])

            def outcome(self) -> PackageRecord:
                failed = recorder.fail.get(name)
                self.out.state = "failed" if failed else "done"
                self.out.phase = failed
                return self.out

        return Job()

    def index(self, kind: str, name: str, task: str) -> int:
        return self.log.index((kind, name, task))


def _run(recorder: Recorder, max_concurrent: int, **kwargs):
    events = list(schedule(ORDER, DEPS, recorder.start, max_concurrent, poll_seconds=0.01, **kwargs))
    return events, {e.outcome.package: e.outcome for e in events if isinstance(e, Finished)}


def test_every_build_after_its_dependencies_builds_and_within_the_limit():
    rec = Recorder()
    events, outcomes = _run(rec, 3)
    assert all(o.status == "success" for o in outcomes.values()) and set(outcomes) == set(DEPS)
    for name, deps in DEPS.items():
        assert rec.index("end", name, "build") < rec.index("start", name, "test")
        for dep in deps:
            assert rec.index("end", dep, "build") < rec.index("start", name, "build")
            assert rec.index("end", dep, "finish") <= rec.index("start", name, "finish")
    assert 1 < rec.peak <= 3
    states = [(e.package, e.state) for e in events if isinstance(e, StateChange)]
    assert ("a", "queued") in states and ("a", "started") in states


def test_a_dependents_build_does_not_wait_for_its_dependencys_tests():
    rec = Recorder(sleep=0.1)
    _run(rec, 4)
    assert rec.index("start", "c", "build") < rec.index("end", "a", "test")


def test_a_failed_test_blocks_the_dependents_even_after_their_build_ran():
    rec = Recorder({"c": "test"}, sleep=0.05, slow={("c", "test"): 1.0})
    _, outcomes = _run(rec, 4)
    assert outcomes["c"].status == "failed"
    for blocked in ("d", "f"):
        assert outcomes[blocked].status == "blocked" and outcomes[blocked].blocked_by == "c"
        assert ("start", blocked, "finish") not in rec.log
    assert ("start", "d", "build") in rec.log  # it built while c's tests ran, and is blocked all the same
    for independent in ("a", "b", "e", "g", "h"):
        assert outcomes[independent].status == "success"


def test_a_failed_build_blocks_only_its_dependents():
    rec = Recorder({"c": "build"})
    _, outcomes = _run(rec, 2)
    assert outcomes["c"].status == "failed"
    assert outcomes["d"].blocked_by == "c" and outcomes["f"].blocked_by == "c"
    assert ("start", "d", "build") not in rec.log and ("start", "f", "build") not in rec.log
    assert {n for n, o in outcomes.items() if o.status == "success"} == {"a", "b", "e", "g", "h"}


def test_all_builds_tests_wait_for_every_build_and_a_failed_build_blocks_only_its_dependents():
    rec = Recorder({"c": "build"})
    _, outcomes = _run(rec, 2, tests_after="all-builds")
    last_build = max(i for i, (kind, _, task) in enumerate(rec.log) if kind == "end" and task == "build")
    first_test = min(i for i, (kind, _, task) in enumerate(rec.log) if kind == "start" and task == "test")
    assert last_build < first_test
    assert {n for n, o in outcomes.items() if o.status == "success"} == {"a", "b", "e", "g", "h"}


def test_wait_for_success_builds_after_the_dependencys_finish():
    rec = Recorder()
    _run(rec, 4, wait_for_success=True)
    for name, deps in DEPS.items():
        for dep in deps:
            assert rec.index("end", dep, "finish") < rec.index("start", name, "build")


def test_dependency_outside_the_selection_counts_as_done():
    rec = Recorder()
    events = list(schedule(["c", "d"], {"c": ["a"], "d": ["c"]}, rec.start, 2, poll_seconds=0.01))
    assert [e.outcome.package for e in events if isinstance(e, Finished)] == ["c", "d"]


def test_critical_path_is_the_heaviest_chain_after_a_task():
    weights = {"a": 1.0, "b": 5.0, "c": 1.0, "d": 1.0}
    assert critical_path(weights, {"a": ["b", "c"], "c": ["d"]}) == {"a": 6.0, "b": 5.0, "c": 2.0, "d": 1.0}


def test_priority_orders_ready_work_by_the_longest_remaining_chain():
    # Three independent roots, one slot: "long" heads a chain of three builds, so it goes first even
    # though it comes last in file order; "short2" (a slow test) beats "short1".
    order = ["short1", "short2", "long", "mid", "tail"]
    deps = {"mid": ["long"], "tail": ["mid"]}
    weights = {"short1": PackageWeights(1, 1), "short2": PackageWeights(1, 3), "long": PackageWeights(1, 1),
               "mid": PackageWeights(1, 1), "tail": PackageWeights(1, 1)}
    prio = task_priorities(order, deps, weights)
    assert prio[("long", "build")] == 4 and prio[("short2", "build")] == 4 and prio[("short1", "build")] == 2
    rec = Recorder(sleep=0.01)
    list(schedule(order, deps, rec.start, 1, priority=lambda p, t: prio.get((p, t), 0.0), poll_seconds=0.01))
    builds = [name for kind, name, task in rec.log if kind == "start" and task == "build"]
    assert builds.index("long") < builds.index("short1") and builds.index("short2") < builds.index("short1")
    assert builds.index("mid") < builds.index("short1")  # the chain stays ahead of the short work


def test_waiting_for_success_and_all_builds_would_deadlock_and_are_refused():
    import pytest

    with pytest.raises(ValueError):
        next(schedule(ORDER, DEPS, Recorder().start, 2, tests_after="all-builds", wait_for_success=True))


def test_all_builds_never_deadlocks_on_a_build_left_to_the_fix_loop():
    """A failed build a fixer may take on: its dependents wait for its success, its fix loop must not wait for them."""

    class Job:
        def __init__(self, name):
            self.name, self.out = name, PackageRecord(package=name)

        def first_task(self):
            def build():
                if self.name == "a":  # left to the fix loop: conclude and finish only
                    return TaskResult(True, built=False, next=[Task("conclude", lambda: TaskResult(True)),
                                                               Task("finish", lambda: TaskResult(True), ["conclude"])])
                return TaskResult(True, built=True, next=[Task("test", lambda: TaskResult(True)),
                                                          Task("conclude", lambda: TaskResult(True), ["test"]),
                                                          Task("finish", lambda: TaskResult(True), ["conclude"])])
            return Task("build", build)

        def outcome(self):
            self.out.state = "done"
            return self.out

    events = list(schedule(["a", "b"], {"b": ["a"]}, lambda n, _s: Job(n), 2, tests_after="all-builds", poll_seconds=0.01))
    assert sorted(e.outcome.package for e in events if isinstance(e, Finished)) == ["a", "b"]

    # c -> a -> b: a's finish waits for c's success, c's tests for "every build", b's build for a's
    # success. The tests are let go once no build can run or start, instead of stalling.
    order, deps = ["c", "a", "b"], {"a": ["c"], "b": ["a"]}
    events = list(schedule(order, deps, lambda n, _s: Job(n), 2, tests_after="all-builds", poll_seconds=0.01))
    assert sorted(e.outcome.package for e in events if isinstance(e, Finished)) == ["a", "b", "c"]
