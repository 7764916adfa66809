"""Dynamic parallelism and failure isolation, with real threads and cheap package builds."""

from __future__ import annotations

import threading
import time

from package_builder_dagster.execution.package_pipeline import PackageOutcome
from package_builder_dagster.execution.scheduler import Finished, StateChange, schedule

DEPS = {
    "a": [], "b": [], "c": ["a"], "d": ["c"], "e": ["b"], "f": ["d", "e"], "g": [], "h": ["g"],
}
ORDER = ["a", "b", "g", "c", "e", "h", "d", "f"]


def _run(fail: set[str], max_concurrent: int, sleep: float = 0.05):
    lock = threading.Lock()
    active, peak, log = [0], [0], []

    def build(name, on_state):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            log.append(("start", name))
        on_state(name, "building", {})
        time.sleep(sleep)
        with lock:
            active[0] -= 1
            log.append(("end", name))
        return PackageOutcome(name=name, status="failed" if name in fail else "success", phase="build" if name in fail else None)

    events = list(schedule(ORDER, DEPS, build, max_concurrent, poll_seconds=0.01))
    outcomes = {e.outcome.name: e.outcome for e in events if isinstance(e, Finished)}
    return events, outcomes, log, peak[0]


def test_every_package_after_its_dependencies_and_within_the_limit():
    events, outcomes, log, peak = _run(set(), 3)
    assert all(o.status == "success" for o in outcomes.values()) and set(outcomes) == set(DEPS)
    for name, deps in DEPS.items():
        for dep in deps:
            assert log.index(("end", dep)) < log.index(("start", name))
    assert 1 < peak <= 3
    states = [(e.package, e.state) for e in events if isinstance(e, StateChange)]
    assert ("a", "queued") in states and ("a", "building") in states


def test_a_failure_blocks_only_its_dependents():
    _, outcomes, log, _ = _run({"c"}, 2)
    assert outcomes["c"].status == "failed"
    assert outcomes["d"].status == "blocked" and outcomes["d"].blocked_by == "c"
    assert outcomes["f"].status == "blocked" and outcomes["f"].blocked_by == "c"
    for independent in ("a", "b", "e", "g", "h"):
        assert outcomes[independent].status == "success"
    assert ("start", "d") not in log and ("start", "f") not in log


def test_dependency_outside_the_selection_counts_as_done():
    events = list(schedule(["c", "d"], {"c": ["a"], "d": ["c"]}, lambda n, cb: PackageOutcome(name=n, status="success"), 2))
    assert [e.outcome.name for e in events if isinstance(e, Finished)] == ["c", "d"]
