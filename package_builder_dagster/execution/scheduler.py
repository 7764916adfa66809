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
  `pkg#task`). It is met once that task ended and its package has not failed, once that package
  succeeded (whether it had such a task or not), or when that package is not in the selection; when
  that package fails or is blocked first, the waiting package is blocked by it;
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
from package_builder_dagster.execution.package_pipeline import now_iso
from package_builder_dagster.execution.priority import PACKAGE
from package_builder_dagster.execution.record import PackageRecord

OnState = Callable[[str, str, dict[str, Any]], None]
TaskRef = str | tuple[str, str]  # a task of the same package, or (package, task) of any package
TestsAfter = Literal["own-build", "all-builds"]


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

    name: str  # "build", "test", "check:<name>", "finish"
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
        loop = _schedule(order, deps, start, max_concurrent, tests_after, wait_for_success, priority, poll_seconds, stop, holds)
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


def _schedule(
    order: list[str], deps: dict[str, list[str]], start: Callable[[str, OnState], Job], max_concurrent: int,
    tests_after: TestsAfter, wait_for_success: bool, priority: Callable[[str, str], float] | None, poll_seconds: float,
    stop: threading.Event, holds: Callable[[str, str], Hold] | None = None,
) -> Iterator[StateChange | Finished]:
    """The scheduling loop (see `schedule`); it ends early when `stop` is set."""
    selected = set(order)
    events: queue.Queue[StateChange] = queue.Queue()

    def on_state(name: str, state: str, detail: dict[str, Any]) -> None:
        events.put(StateChange(name, state, now_iso(), detail))

    pkgs: dict[str, _Package] = {}
    dependents: dict[str, list[str]] = {n: [] for n in order}
    for i, n in enumerate(order):
        ds = {d for d in deps.get(n, []) if d in selected and d != n}
        pkgs[n] = _Package(n, i, set(ds), set(ds), start(n, on_state))
        for d in ds:
            dependents[d].append(n)
    ready: list[tuple[float, bool, int, int, str, str]] = []  # heap of (-priority, is a build, position, seq, package, task)
    seq = itertools.count()
    running: dict[Future[TaskResult], tuple[str, str]] = {}
    builds_left = [len(order)]  # builds not ended, of packages that can still build
    tests_released = [False]  # all-builds: no build runs or can start, though some have not ended
    finished: list[Finished] = []
    rank = priority or (lambda package, task: 0.0)
    locks = _Locks(holds) if holds is not None else None

    def drain() -> Iterator[StateChange]:
        while True:
            try:
                yield events.get_nowait()
            except queue.Empty:
                return

    def met(p: _Package, ref: TaskRef) -> bool:
        if isinstance(ref, str):
            return ref in p.done
        other = pkgs.get(ref[0])
        return other is None or other.final == "done" or (not other.final and ref[1] in other.done)

    def watchers(name: str) -> list[str]:
        """Packages with a waiting task that waits for a task of `name`."""
        return [w.name for w in pkgs.values() if w.name != name and not w.final
                and any(isinstance(r, tuple) and r[0] == name for t in w.waiting.values() for r in t.after)]

    def can_start(p: _Package, task: Task) -> bool:
        if p.final or not all(met(p, ref) for ref in task.after):
            return False
        if task.name == "build":
            return not p.build_waits
        if task.name == "finish":
            return not p.finish_waits
        if task.name == "conclude":  # after the package's own tests and checks; a fix loop after a failed build
            return True  # must not wait for every build: its dependents' builds wait for it
        return tests_after == "own-build" or builds_left[0] == 0 or tests_released[0]

    def push_ready(p: _Package) -> None:
        for name, task in list(p.waiting.items()):
            cause = next((r[0] for r in task.after if isinstance(r, tuple) and r[0] in pkgs
                          and pkgs[r[0]].final in ("failed", "blocked")), None)
            if cause and not p.final:
                return fail(p, blocked_by=cause)
            if can_start(p, task):
                del p.waiting[name]
                if name == "build":
                    p.ready_at = time.monotonic()
                heapq.heappush(ready, (-task_rank(p, name), name == "build", p.position, next(seq), p.name, name))

    def task_rank(p: _Package, name: str) -> float:
        """A ready task's priority: a started package's tasks rank at least as its own chain."""
        if name in ("conclude", "finish"):  # cheap, and they unblock others (a finish waits for its conclude)
            return float("inf")
        own = rank(p.name, name)
        return own if name == "build" else max(own, rank(p.name, PACKAGE))

    def build_ended(p: _Package) -> None:
        if not p.build_ended:
            p.build_ended = True
            builds_left[0] -= 1
            if builds_left[0] == 0 and tests_after == "all-builds":
                for other in pkgs.values():
                    push_ready(other)

    def settle(p: _Package) -> None:
        """Report a failed or blocked package once none of its tasks runs any more."""
        if p.final in ("failed", "blocked") and p.running == 0 and p.name not in reported:
            reported.add(p.name)
            finished.append(Finished(_with_serialized(_final_outcome(p), locks, p.name)))

    reported: set[str] = set()

    def fail(p: _Package, blocked_by: str | None = None) -> None:
        """`p` failed (or, with `blocked_by`, is blocked); what waits for it is blocked."""
        p.final, p.blocked_by = ("blocked", blocked_by) if blocked_by else ("failed", None)
        p.waiting.clear()
        build_ended(p)
        settle(p)
        stack = list(dependents[p.name]) + watchers(p.name)
        while stack:
            child = pkgs[stack.pop(0)]
            if child.final:
                continue
            child.final, child.blocked_by = "blocked", blocked_by or p.name
            child.waiting.clear()
            build_ended(child)
            settle(child)
            stack.extend(dependents[child.name] + watchers(child.name))

    def succeed(p: _Package) -> None:
        p.final = "done"
        finished.append(Finished(_with_serialized(p.job.outcome(), locks, p.name)))
        for child in dependents[p.name] + watchers(p.name):
            c = pkgs[child]
            c.finish_waits.discard(p.name)
            c.build_waits.discard(p.name)  # also where its build waited for this success, or for a fixed build
            push_ready(c)

    def release_tests_if_builds_are_stuck() -> None:
        """all-builds: builds left to a fix loop wait for packages whose tests wait for every build;
        once no build runs or is ready, the tests go (instead of a stall)."""
        if tests_after != "all-builds" or tests_released[0] or builds_left[0] == 0:
            return
        in_flight = any(t == "build" for _, t in running.values()) or any(
            entry[5] == "build" and not pkgs[entry[4]].final for entry in ready)
        if not in_flight:
            tests_released[0] = True
            for other in pkgs.values():
                push_ready(other)

    def start_ready(pool: ThreadPoolExecutor) -> None:
        held_back: list[tuple[float, bool, int, int, str, str]] = []  # ready, but its holds conflict
        if locks is not None:
            locks.new_pass()
        while ready and len(running) < max_concurrent:
            entry = heapq.heappop(ready)
            *_, name, task_name = entry
            p = pkgs[name]
            if p.final:
                continue
            if locks is not None and not locks.acquire(name, task_name):
                held_back.append(entry)
                continue
            task = p.tasks[task_name]
            if not p.started:
                p.started = True
                wait_ms = int((time.monotonic() - (p.ready_at or time.monotonic())) * 1000)
                on_state(name, "started", {"slot_wait_ms": wait_ms})
            p.running += 1
            running[pool.submit(task.run)] = (name, task.name)
        for entry in held_back:
            heapq.heappush(ready, entry)

    for n in order:
        yield StateChange(n, "queued", now_iso())
        p = pkgs[n]
        first = p.job.first_task()
        p.tasks[first.name] = p.waiting[first.name] = first
        push_ready(p)

    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="task")
    try:
        while (running or ready) and not stop.is_set():
            start_ready(pool)
            yield from drain()
            if not running:
                break
            done, _ = wait(running, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: (pkgs[running[f][0]].position, running[f][1])):
                name, task_name = running.pop(future)
                if locks is not None:
                    locks.release(name, task_name)
                p = pkgs[name]
                p.running -= 1
                result = future.result()
                p.done.add(task_name)
                if task_name == "build":
                    build_ended(p)
                if p.final:  # failed or blocked while this task ran
                    settle(p)
                    continue
                if not result.ok:
                    fail(p)
                    continue
                for task in result.next:
                    p.tasks[task.name] = p.waiting[task.name] = task
                if task_name == "finish":
                    succeed(p)
                    continue
                if result.built and not wait_for_success:
                    for child in dependents[name]:
                        pkgs[child].build_waits.discard(name)
                        push_ready(pkgs[child])
                for watcher in watchers(name):
                    push_ready(pkgs[watcher])
                push_ready(p)
            release_tests_if_builds_are_stuck()
            start_ready(pool)
            yield from drain()
            yield from finished
            finished.clear()
        yield from drain()
        yield from finished
        left = [n for n, p in pkgs.items() if not p.final]
        if left and not stop.is_set():  # cannot happen with an acyclic graph; never end silently
            raise RuntimeError(f"scheduler stalled with {sorted(left)} unfinished")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


TaskKey = tuple[str, str]  # (package, task)


class _Locks:
    """Readers/writer holds on outputs (see `execution.output_hazards`), taken all at once when a task
    starts. Ready tasks are tried in priority order; one that cannot start reserves its holds for the
    rest of the pass, so a task of lower priority never overtakes it on the same outputs."""

    def __init__(self, holds: Callable[[str, str], Hold]):
        self.holds = holds
        self.cache: dict[TaskKey, Hold] = {}
        self.shared: dict[str, set[TaskKey]] = {}  # resource → running tasks that read it
        self.exclusive: dict[str, TaskKey] = {}  # resource → the running task that rewrites it
        self.want_shared: dict[str, TaskKey] = {}  # this pass: resource → a held-back task of higher priority
        self.want_exclusive: dict[str, TaskKey] = {}
        self.serialized: dict[TaskKey, dict[str, Any]] = {}  # writer task → its report entry
        self.noted: set[tuple[TaskKey, TaskKey]] = set()

    def hold(self, key: TaskKey) -> Hold:
        if key not in self.cache:
            self.cache[key] = self.holds(*key) or Hold()
        return self.cache[key]

    def new_pass(self) -> None:
        self.want_shared.clear()
        self.want_exclusive.clear()

    def acquire(self, package: str, task: str) -> bool:
        """Take the task's holds, or (when one conflicts) reserve them for this pass and say False."""
        key = (package, task)
        h = self.hold(key)
        if not h:
            return True
        conflicts: list[tuple[TaskKey, TaskKey]] = []  # (the writer, the other task)
        for r in h.exclusive:
            if r in self.exclusive:
                conflicts.append((self.exclusive[r], key))
            elif r in self.want_exclusive:
                conflicts.append((self.want_exclusive[r], key))
            conflicts += [(key, other) for other in self.shared.get(r, ())]
            if r in self.want_shared:
                conflicts.append((key, self.want_shared[r]))
        for r in h.shared:
            if r in self.exclusive:
                conflicts.append((self.exclusive[r], key))
            elif r in self.want_exclusive:
                conflicts.append((self.want_exclusive[r], key))
        if conflicts:
            for writer, other in conflicts:
                self._note(writer, other, held=other == key)
            for r in h.exclusive:
                self.want_exclusive.setdefault(r, key)
            for r in h.shared:
                self.want_shared.setdefault(r, key)
            return False
        for r in h.exclusive:
            self.exclusive[r] = key
        for r in h.shared:
            self.shared.setdefault(r, set()).add(key)
        return True

    def release(self, package: str, task: str) -> None:
        key = (package, task)
        h = self.cache.get(key)
        if not h:
            return
        for r in h.exclusive:
            if self.exclusive.get(r) == key:
                del self.exclusive[r]
        for r in h.shared:
            self.shared.get(r, set()).discard(key)

    def _note(self, writer: TaskKey, other: TaskKey, held: bool) -> None:
        """`held`: `other` waited for `writer`; otherwise `writer` waited for `other`."""
        if (writer, other) in self.noted or writer == other:
            return
        self.noted.add((writer, other))
        entry = self.serialized.setdefault(writer, {
            "task": f"{writer[0]}#{writer[1]}", "reason": self.hold(writer).reason or "it rewrites outputs others read",
            "heldBack": [], "waitedFor": [], "time": now_iso()})
        entry["heldBack" if held else "waitedFor"].append(f"{other[0]}#{other[1]}")

    def entries(self, package: str) -> list[dict[str, Any]]:
        return [e for (p, _), e in self.serialized.items() if p == package]


def _with_serialized(out: PackageRecord, locks: _Locks | None, package: str) -> PackageRecord:
    """The outcome with the hold-backs its tasks caused (see `_Locks`), and a warning that says so."""
    if locks is None:
        return out
    for entry in locks.entries(package):
        if entry in out.serialized:
            continue
        out.serialized.append(entry)
        parts = []
        if entry["heldBack"]:
            parts.append(f"held back {', '.join(entry['heldBack'][:5])}{' …' if len(entry['heldBack']) > 5 else ''} while it ran")
        if entry["waitedFor"]:
            parts.append(f"waited for {', '.join(entry['waitedFor'][:5])}{' …' if len(entry['waitedFor']) > 5 else ''}")
        out.warnings.append(f"serialized {entry['task'].split('#', 1)[1]}: {entry['reason']}; {' and '.join(parts)}")
    return out


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
