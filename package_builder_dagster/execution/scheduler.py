"""Task scheduling: every package's build, tests and checks are tasks of one graph, N at a time.

A package's first task is its build. The build returns the tasks that wait for it (tests and
checks), and those return nothing more, except a package's `finish` task (fix loop, publishing,
saving to the cache), which waits for all of the package's own tasks and for its dependencies to
succeed. The rules, all enforced here:

- a build waits for the builds of its dependencies in the selection (with `wait_for_success`, for
  their success instead: publishing needs its runtime dependencies on the registry first);
- with `tests_after="all-builds"`, no task but a build starts until every selected package's build
  has ended (or can no longer run);
- a package that fails any task fails; every package downstream of it is blocked, even one whose
  build already ran, and starts nothing more;
- at most `max_concurrent` tasks run at once; ready tasks start by `priority` (highest first), then
  a started package's task before another package's build, then in the order of `order`;
- outputs are never rewritten under a reader (`holds`, see `execution.output_hazards`): a task
  that rewrites a package's outputs after its build (a test script that runs the build, a
  `pretest` that removes dist/) takes them exclusively, every task of a dependent that reads them
  (build, tests, checks, fix loop) takes a shared hold, and `tsc -b` builds that reach one referenced
  project take it exclusively. Holds are taken all at once when a task starts and given back when it
  ends (no task waits while holding: no deadlock). A ready task whose holds conflict stays ready and
  the slot goes to the next ready task; it also reserves its holds against ready tasks of lower
  priority, so a waiting writer is not overtaken forever by readers of lower priority. Every such
  hold-back is recorded on the writer's outcome (`serialized`) for the report;
- a task may also wait for another package's task: an `after` entry `(package, task)` (Turborepo's
  `pkg#task`; its `^task` is one such entry per dependency). It is met once that task ended and its
  package has not failed, once that package succeeded (whether it had such a task or not), or when
  that package is not in the selection; when that package fails or is blocked first, the waiting
  package is blocked by it (as a dependent would be);
- finish what was started: a started package's remaining tasks (tests, checks) rank at least at the
  priority of the package's own chain (`priority(package, "package")`: its build and the longest of
  what follows it). A build heading a longer chain still goes first, but a package whose build ran
  is finished before another one of equal or lower priority starts, so that a package is done (and
  recorded) soon after its own commands ran: an interrupt loses only the packages in flight.

No Dagster in this module. The loop runs in a thread of its own; the generator hands its events to the
caller's thread, where a KeyboardInterrupt or a Dagster interrupt arrives: the generator then stops
scheduling, hands over the outcomes already in (packages that finished are kept) and raises it again;
closing it stops scheduling too (the caller cancels commands).
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from package_builder_dagster.execution.output_hazards import Hold
from package_builder_dagster.execution.priority import PACKAGE
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.steps import now_iso
from package_builder_dagster.execution.task_holds import TaskHolds

OnState = Callable[[str, str, dict[str, Any]], None]
TestsAfter = Literal["own-build", "all-builds"]
TaskRef = str | tuple[str, str]  # a task of the same package, or (package, task) of any package


@dataclass
class StateChange:
    package: str
    state: str
    time: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finished:
    outcome: PackageRecord


@dataclass
class Task:
    """One unit of work of a package: `run()` runs in a worker thread and must not raise."""

    name: str  # "build", "test", "check:<name>", "conclude", "finish"
    run: Callable[[], TaskResult]
    after: list[TaskRef] = field(default_factory=list)  # the tasks it waits for: its package's, or (package, task)


@dataclass
class TaskResult:
    ok: bool  # False: the package failed (its job's outcome says why)
    built: bool = False  # a build task: its outputs are there, dependents may build
    next: list[Task] = field(default_factory=list)  # tasks this one makes known


class Job(Protocol):
    """One package's work in a run (see execution.package_tasks.PackageTasks)."""

    def first_task(self) -> Task: ...

    def outcome(self) -> PackageRecord: ...


@dataclass
class _Package:
    name: str
    position: int
    build_waits: set[str]  # dependencies whose build (or success) it still waits for
    finish_waits: set[str]  # dependencies it waits for to succeed
    job: Job
    tasks: dict[str, Task] = field(default_factory=dict)  # every task known so far
    waiting: dict[str, Task] = field(default_factory=dict)  # known tasks, not started
    done: set[str] = field(default_factory=set)  # tasks that ended
    running: int = 0
    final: str | None = None  # "done", "failed", "blocked"
    blocked_by: str | None = None
    build_ended: bool = False
    ready_at: float | None = None  # when its build became ready (monotonic)
    started: bool = False


_Ready = tuple[float, bool, int, int, str, str]  # (-priority, is a build, position, seq, package, task): a heap entry


def schedule(
    order: list[str],
    deps: dict[str, list[str]],
    start: Callable[[str, OnState], Job],
    max_concurrent: int,
    *,
    tests_after: TestsAfter = "own-build",
    wait_for_success: bool = False,
    priority: Callable[[str, str], float] | None = None,
    poll_seconds: float = 0.2,
    holds: Callable[[str, str], Hold] | None = None,
) -> Iterator[StateChange | Finished]:
    """Run the packages in `order` (dependency order); yield state changes and each package's outcome.

    `deps` maps each package to its dependencies (those outside the selection count as done).
    `start(name, on_state)` makes each package's job (its tasks run later, in worker threads).
    The scheduling itself runs in a thread of its own, so a slow consumer (each event the caller
    writes to Dagster's event log costs a database commit) never keeps a free slot empty.
    `holds(package, task)`: what the task holds on outputs while it runs (None: nothing, as before).
    """
    if wait_for_success and tests_after == "all-builds":  # builds would wait for tests that wait for every build
        raise ValueError('wait_for_success cannot be combined with tests_after="all-builds"')
    items: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def forward() -> None:
        loop = Scheduler(order, deps, start, max_concurrent, tests_after=tests_after, wait_for_success=wait_for_success,
                         priority=priority, poll_seconds=poll_seconds, holds=holds, stop=stop).run()
        try:
            for item in loop:
                items.put(item)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            items.put(_Raised(exc))
        finally:
            loop.close()
            items.put(_END)

    thread = threading.Thread(target=forward, name="scheduler", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = items.get(timeout=0.5)  # a timeout, so Ctrl-C and Dagster's interrupt get through
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    except GeneratorExit:
        raise
    except BaseException:  # an interrupt (Ctrl-C, Dagster's): first the outcomes already in, then stop
        stop.set()
        yield from _outcomes_in(items)
        raise
    finally:
        stop.set()


def _outcomes_in(items: queue.Queue[Any]) -> Iterator[Finished]:
    """The packages' outcomes waiting in `items` (what finished before an interrupt), without waiting."""
    while True:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, Finished):
            yield item


_END = object()


@dataclass
class _Raised:
    exc: BaseException


class Scheduler:
    """The scheduling loop of one run (see `schedule`, which runs `run()` in a thread of its own).

    Its state is its fields: the packages, the ready heap, the running futures, the builds left.
    `run()` ends early when `stop` is set.
    """

    def __init__(
        self, order: list[str], deps: dict[str, list[str]], start: Callable[[str, OnState], Job], max_concurrent: int, *,
        tests_after: TestsAfter = "own-build", wait_for_success: bool = False,
        priority: Callable[[str, str], float] | None = None, poll_seconds: float = 0.2,
        holds: Callable[[str, str], Hold] | None = None, stop: threading.Event | None = None,
    ):
        self.order, self.max_concurrent, self.poll_seconds = order, max_concurrent, poll_seconds
        self.tests_after, self.wait_for_success = tests_after, wait_for_success
        self.rank = priority or (lambda package, task: 0.0)
        self.locks = TaskHolds(holds) if holds is not None else None
        self.stop = stop or threading.Event()
        self.events: queue.Queue[StateChange] = queue.Queue()  # state changes from the worker threads
        self.pkgs: dict[str, _Package] = {}
        self.dependents: dict[str, list[str]] = {n: [] for n in order}
        self.watchers: dict[str, set[str]] = {}  # package → packages with a task waiting for one of its tasks
        self.ready: list[_Ready] = []
        self.seq = itertools.count()
        self.running: dict[Future[TaskResult], tuple[str, str]] = {}
        self.builds_left = len(order)  # builds not ended, of packages that can still build
        self.tests_released = False  # all-builds: no build runs or can start, though some have not ended
        self.finished: list[Finished] = []  # outcomes not yet yielded
        self.reported: set[str] = set()  # failed or blocked packages whose outcome is out
        selected = set(order)
        for i, n in enumerate(order):
            ds = {d for d in deps.get(n, []) if d in selected and d != n}
            self.pkgs[n] = _Package(n, i, set(ds), set(ds), start(n, self.on_state))
            for d in ds:
                self.dependents[d].append(n)

    def on_state(self, name: str, state: str, detail: dict[str, Any]) -> None:
        """A job's state change (from any thread), yielded by the loop."""
        self.events.put(StateChange(name, state, now_iso(), detail))

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> Iterator[StateChange | Finished]:
        """Every package's tasks, at most `max_concurrent` at once; state changes and outcomes as they come."""
        for n in self.order:
            yield StateChange(n, "queued", now_iso())
            self._add_tasks(self.pkgs[n], [self.pkgs[n].job.first_task()])
            self._push_ready(self.pkgs[n])
        pool = ThreadPoolExecutor(max_workers=self.max_concurrent, thread_name_prefix="task")
        try:
            while (self.running or self.ready) and not self.stop.is_set():
                self._start_ready(pool)
                yield from self._drain()
                if not self.running:
                    break
                done, _ = wait(self.running, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: (self.pkgs[self.running[f][0]].position, self.running[f][1])):
                    self._ended(future)
                self._release_tests_if_builds_are_stuck()
                self._start_ready(pool)
                yield from self._drain()
                yield from self._outcomes()
            yield from self._drain()
            yield from self._outcomes()
            left = [n for n, p in self.pkgs.items() if not p.final]
            if left and not self.stop.is_set():  # a cycle (of packages or task edges); never end silently
                raise RuntimeError(f"scheduler stalled with {sorted(left)} unfinished")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _drain(self) -> Iterator[StateChange]:
        while True:
            try:
                yield self.events.get_nowait()
            except queue.Empty:
                return

    def _outcomes(self) -> Iterator[Finished]:
        finished, self.finished = self.finished, []
        yield from finished

    def _start_ready(self, pool: ThreadPoolExecutor) -> None:
        """Start ready tasks by rank into the free slots; one whose holds conflict stays ready."""
        held_back: list[_Ready] = []
        if self.locks is not None:
            self.locks.new_pass()
        while self.ready and len(self.running) < self.max_concurrent:
            entry = heapq.heappop(self.ready)
            *_, name, task_name = entry
            p = self.pkgs[name]
            if p.final:
                continue
            if self.locks is not None and not self.locks.acquire(name, task_name):
                held_back.append(entry)
                continue
            if not p.started:
                p.started = True
                wait_ms = int((time.monotonic() - (p.ready_at or time.monotonic())) * 1000)
                self.on_state(name, "started", {"slot_wait_ms": wait_ms})
            p.running += 1
            self.running[pool.submit(p.tasks[task_name].run)] = (name, task_name)
        for entry in held_back:
            heapq.heappush(self.ready, entry)

    def _ended(self, future: Future[TaskResult]) -> None:
        """A task ended: record it, then fail, finish or move its package (and its dependents) on."""
        name, task_name = self.running.pop(future)
        if self.locks is not None:
            self.locks.release(name, task_name)
        p = self.pkgs[name]
        p.running -= 1
        result = future.result()
        p.done.add(task_name)
        if task_name == "build":
            self._build_ended(p)
        if p.final:  # failed or blocked while this task ran
            self._settle(p)
            return
        if not result.ok:
            self._fail(p)
            return
        self._add_tasks(p, result.next)
        if task_name == "finish":
            self._succeed(p)
            return
        if result.built and not self.wait_for_success:
            for child in self.dependents[name]:
                self.pkgs[child].build_waits.discard(name)
                self._push_ready(self.pkgs[child])
        self._push_ready(p)
        self._wake_watchers(p)

    # -- readiness --------------------------------------------------------------------------------
    def _add_tasks(self, p: _Package, tasks: list[Task]) -> None:
        """Tasks a package's job made known: waiting until `_push_ready` finds them ready."""
        for task in tasks:
            p.tasks[task.name] = p.waiting[task.name] = task
            for other, _ in self._cross_edges(p, task):
                self.watchers.setdefault(other, set()).add(p.name)

    def _push_ready(self, p: _Package) -> None:
        for name, task in list(p.waiting.items()):
            if p.final:
                return
            broken = self._broken_edge(p, task)
            if broken is not None:
                self._block(p, broken)
                return
            if self._can_start(p, task):
                del p.waiting[name]
                if name == "build":
                    p.ready_at = time.monotonic()
                entry = (-self._task_rank(p, name), name == "build", p.position, next(self.seq), p.name, name)
                heapq.heappush(self.ready, entry)

    def _can_start(self, p: _Package, task: Task) -> bool:
        if p.final or not all(self._edge_met(p, ref) for ref in task.after):
            return False
        if task.name == "build":
            return not p.build_waits
        if task.name == "finish":
            return not p.finish_waits
        if task.name == "conclude":  # after the package's own tests and checks; a fix loop after a failed build
            return True  # must not wait for every build: its dependents' builds wait for it
        return self.tests_after == "own-build" or self.builds_left == 0 or self.tests_released

    def _edge_met(self, p: _Package, ref: TaskRef) -> bool:
        """Whether the task `ref` names has ended for good (see the module's rule on task edges)."""
        package, task = (p.name, ref) if isinstance(ref, str) else ref
        if package == p.name:
            return task in p.done
        other = self.pkgs.get(package)
        return other is None or other.final == "done" or (not other.final and task in other.done)

    def _cross_edges(self, p: _Package, task: Task) -> list[tuple[str, str]]:
        """The task's edges to other packages' tasks (in the selection)."""
        return [ref for ref in task.after if isinstance(ref, tuple) and ref[0] != p.name and ref[0] in self.pkgs]

    def _broken_edge(self, p: _Package, task: Task) -> str | None:
        """The failed or blocked package one of the task's edges points to (it can never be met), or None."""
        for other, _ in self._cross_edges(p, task):
            if self.pkgs[other].final in ("failed", "blocked"):
                return other
        return None

    def _wake_watchers(self, p: _Package) -> None:
        """A task of `p` ended (or `p` reached its end): tasks of other packages waiting for it may start."""
        for name in sorted(self.watchers.get(p.name, ()), key=lambda n: self.pkgs[n].position):
            self._push_ready(self.pkgs[name])

    def _task_rank(self, p: _Package, name: str) -> float:
        """A ready task's priority: a started package's tasks rank at least as its own chain."""
        if name in ("conclude", "finish"):  # cheap, and they unblock others (a finish waits for its conclude)
            return float("inf")
        own = self.rank(p.name, name)
        return own if name == "build" else max(own, self.rank(p.name, PACKAGE))

    def _build_ended(self, p: _Package) -> None:
        if not p.build_ended:
            p.build_ended = True
            self.builds_left -= 1
            if self.builds_left == 0 and self.tests_after == "all-builds":
                for other in self.pkgs.values():
                    self._push_ready(other)

    def _release_tests_if_builds_are_stuck(self) -> None:
        """all-builds: builds left to a fix loop wait for packages whose tests wait for every build;
        once no build runs or is ready, the tests go (instead of a stall)."""
        if self.tests_after != "all-builds" or self.tests_released or self.builds_left == 0:
            return
        in_flight = any(t == "build" for _, t in self.running.values()) or any(
            entry[5] == "build" and not self.pkgs[entry[4]].final for entry in self.ready)
        if not in_flight:
            self.tests_released = True
            for other in self.pkgs.values():
                self._push_ready(other)

    # -- the end of a package ---------------------------------------------------------------------
    def _succeed(self, p: _Package) -> None:
        p.final = "done"
        self.finished.append(Finished(self._with_serialized(p.job.outcome(), p.name)))
        for child in self.dependents[p.name]:
            c = self.pkgs[child]
            c.finish_waits.discard(p.name)
            c.build_waits.discard(p.name)  # also where its build waited for this success, or for a fixed build
            self._push_ready(c)
        self._wake_watchers(p)

    def _fail(self, p: _Package) -> None:
        p.final = "failed"
        p.waiting.clear()
        self._build_ended(p)
        self._settle(p)
        self._block_downstream(p.name, p.name)

    def _block(self, p: _Package, by: str) -> None:
        """`p` waits for a task of `by`, which failed or is blocked: `p` is blocked, and so is its downstream."""
        cause = self.pkgs[by].blocked_by or by
        self._mark_blocked(p, cause)
        self._block_downstream(p.name, cause)

    def _block_downstream(self, name: str, cause: str) -> None:
        """Every package downstream of `name` (its dependents, and packages with a task waiting for one
        of its tasks), blocked by `cause`."""
        stack = [name]
        while stack:
            upstream = stack.pop(0)
            for child in self._downstream(upstream):
                c = self.pkgs[child]
                if not c.final:
                    self._mark_blocked(c, cause)
                    stack.append(child)

    def _downstream(self, name: str) -> list[str]:
        watching = [w for w in sorted(self.watchers.get(name, ()), key=lambda n: self.pkgs[n].position)
                    if any(other == name for t in self.pkgs[w].waiting.values() for other, _ in self._cross_edges(self.pkgs[w], t))]
        return self.dependents[name] + [w for w in watching if w not in self.dependents[name]]

    def _mark_blocked(self, p: _Package, cause: str) -> None:
        p.final, p.blocked_by = "blocked", cause
        p.waiting.clear()
        self._build_ended(p)
        self._settle(p)

    def _settle(self, p: _Package) -> None:
        """Report a failed or blocked package once none of its tasks runs any more."""
        if p.final in ("failed", "blocked") and p.running == 0 and p.name not in self.reported:
            self.reported.add(p.name)
            self.finished.append(Finished(self._with_serialized(_final_outcome(p), p.name)))

    def _with_serialized(self, out: PackageRecord, package: str) -> PackageRecord:
        return out if self.locks is None else self.locks.with_serialized(out, package)


def _final_outcome(p: _Package) -> PackageRecord:
    """A failed package's outcome from its job; a blocked one's (with what its own tasks did, if any)."""
    if p.final == "failed":
        return p.job.outcome()
    out = p.job.outcome()
    out.start_time = out.start_time or now_iso()
    out.state, out.phase, out.blocked_by = "blocked", "blocked", p.blocked_by
    out.error = f"blocked: dependency {p.blocked_by} did not succeed"
    out.end_time = None
    out.publish = None
    return out.close(now_iso())
