"""Dynamic parallelism: start each package as soon as its dependencies succeeded, N at a time.

A failed package blocks its dependents (they are never started and are reported as blocked);
packages that do not depend on it keep building. No Dagster in this module.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from package_builder_dagster.execution.package_pipeline import PackageOutcome, now_iso


@dataclass
class StateChange:
    package: str
    state: str
    time: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finished:
    outcome: PackageOutcome


@dataclass
class Timing:
    """When a package became ready (all deps done) and when it got a slot, in monotonic seconds."""

    ready: float | None = None
    started: float | None = None


def schedule(
    order: list[str],
    deps: dict[str, list[str]],
    build: Callable[[str, Callable[[str, str, dict[str, Any]], None]], PackageOutcome],
    max_concurrent: int,
    poll_seconds: float = 0.2,
) -> Iterator[StateChange | Finished]:
    """Build the packages in `order` (dependency order) and yield state changes and outcomes.

    `deps` maps each package to its dependencies inside the selection (others count as done).
    `build(name, on_state)` runs one package in a worker thread. The generator runs in the
    caller's thread, so a KeyboardInterrupt or a Dagster interrupt arrives between polls; closing
    the generator stops scheduling (the caller cancels running commands).
    """
    selected = set(order)
    waiting = {n: {d for d in deps.get(n, []) if d in selected} for n in order}
    dependents: dict[str, list[str]] = {n: [] for n in order}
    for n, ds in waiting.items():
        for d in ds:
            dependents[d].append(n)
    position = {n: i for i, n in enumerate(order)}
    events: queue.Queue[StateChange] = queue.Queue()
    running: dict[Future[PackageOutcome], str] = {}
    timing = {n: Timing() for n in order}

    def on_state(name: str, state: str, detail: dict[str, Any]) -> None:
        events.put(StateChange(name, state, now_iso(), detail))

    def drain() -> Iterator[StateChange]:
        while True:
            try:
                yield events.get_nowait()
            except queue.Empty:
                return

    for n in order:
        yield StateChange(n, "queued", now_iso())
        if not waiting[n]:
            timing[n].ready = time.monotonic()

    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="package")

    def start_ready() -> None:
        ready = sorted((n for n, ds in waiting.items() if not ds), key=position.__getitem__)
        for name in ready[: max(0, max_concurrent - len(running))]:
            del waiting[name]
            timing[name].started = time.monotonic()
            slot_wait = int((timing[name].started - (timing[name].ready or timing[name].started)) * 1000)
            on_state(name, "started", {"slot_wait_ms": slot_wait})
            running[pool.submit(build, name, on_state)] = name

    try:
        while waiting or running:
            start_ready()
            yield from drain()
            if not running:
                if waiting:  # cannot happen with an acyclic graph; never spin forever
                    raise RuntimeError(f"scheduler stalled with {sorted(waiting)} waiting")
                break
            done, _ = wait(running, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            finished: list[Finished] = []
            for future in sorted(done, key=lambda f: position[running[f]]):
                name = running.pop(future)
                outcome = future.result()
                finished.append(Finished(outcome))
                if outcome.ok:
                    for child in dependents[name]:
                        if child in waiting:
                            waiting[child].discard(name)
                            if not waiting[child]:
                                timing[child].ready = time.monotonic()
                else:
                    finished.extend(_block(name, dependents, waiting))
            # Dependents start before the caller records these results (which can take a while), so
            # recording never holds a free slot empty.
            start_ready()
            yield from drain()
            yield from finished
        yield from drain()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _block(failed: str, dependents: dict[str, list[str]], waiting: dict[str, set[str]]) -> Iterator[Finished]:
    """Every package downstream of `failed` that has not started is blocked by it."""
    stack = list(dependents[failed])
    while stack:
        child = stack.pop(0)
        if child not in waiting:
            continue
        del waiting[child]
        outcome = PackageOutcome(
            name=child, status="blocked", phase="blocked", blocked_by=failed,
            error=f"blocked: dependency {failed} did not build", start_time=now_iso(), end_time=now_iso(),
        )
        yield Finished(outcome)
        stack.extend(dependents[child])
