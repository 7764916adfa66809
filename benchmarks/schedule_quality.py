"""Schedule quality: makespan / lower bound of the task scheduler, with critical-path priority and in file order.

An in-process simulation that drives the real scheduler (`execution.scheduler.schedule`, real worker
threads) with tasks that sleep: per package a build, a test and a lint, durations drawn from a
log-normal distribution, on DAGs of the generated 88-package shape (`examples.layered_specs`), five
fixed seeds. The priority gets the true durations, as it would from an earlier run's history. The
lower bound is max(longest chain, total task time / slots) from the same durations.
`--holds` also passes output holds (execution.output_hazards) in which every task reads its
dependencies' outputs and no task rewrites them: the holds' code path, with nothing to keep apart.
Usage: .venv/bin/python benchmarks/schedule_quality.py [--packages 88] [--slots 4] [--scale 0.05] [--holds]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from package_builder_dagster.examples import layered_specs  # noqa: E402
from package_builder_dagster.execution.output_hazards import Hold  # noqa: E402
from package_builder_dagster.execution.priority import PackageWeights, task_priorities  # noqa: E402
from package_builder_dagster.execution.record import PackageRecord  # noqa: E402
from package_builder_dagster.execution.scheduler import Task, TaskResult, schedule  # noqa: E402

TASKS = ("build", "test", "check:lint")
SEEDS = (1, 2, 3, 4, 5)


def durations(order: list[str], seed: int, scale: float) -> dict[tuple[str, str], float]:
    """Log-normal task durations (median `scale` seconds, sigma 0.8), builds twice as long as the rest."""
    rng = random.Random(seed)
    return {(p, t): scale * (2.0 if t == "build" else 1.0) * rng.lognormvariate(0, 0.8) for p in order for t in TASKS}


def lower_bound(order: list[str], deps: dict[str, list[str]], d: dict[tuple[str, str], float], slots: int) -> float:
    chain: dict[str, float] = {}
    for p in order:
        chain[p] = d[(p, "build")] + max((chain[x] for x in deps[p]), default=0.0)
    longest = max(chain[p] + max(d[(p, "test")], d[(p, "check:lint")]) for p in order)
    return max(longest, sum(d.values()) / slots)


class SleepJob:
    def __init__(self, name: str, d: dict[tuple[str, str], float]):
        self.name, self.d = name, d

    def _sleep(self, task: str, next_tasks: list[Task]) -> Task:
        def run() -> TaskResult:
            time.sleep(self.d.get((self.name, task), 0.0))
            return TaskResult(True, built=task == "build", next=next_tasks)
        return Task(task, run)

    def first_task(self) -> Task:
        after = [self._sleep(t, []) for t in TASKS[1:]]
        finish = self._sleep("finish", [])
        finish.after = [t.name for t in after]
        return self._sleep("build", after + [finish])

    def outcome(self) -> PackageRecord:
        return PackageRecord(package=self.name, state="done")


def makespan(order: list[str], deps: dict[str, list[str]], d: dict[tuple[str, str], float], slots: int, prioritized: bool,
             with_holds: bool = False) -> float:
    priority = None
    if prioritized:
        weights = {p: PackageWeights(d[(p, "build")], d[(p, "test")], {"lint": d[(p, "check:lint")]}) for p in order}
        prio = task_priorities(order, deps, weights, ["lint"])
        priority = lambda p, t: prio.get((p, t), 0.0)  # noqa: E731
    holds = None
    if with_holds:
        reads = {p: Hold(frozenset(f"outputs:{x}" for x in deps[p])) for p in order}
        holds = lambda p, t: reads[p]  # noqa: E731
    started = time.perf_counter()
    for _ in schedule(order, deps, lambda n, _s: SleepJob(n, d), slots, priority=priority, poll_seconds=0.5, holds=holds):
        pass
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--scale", type=float, default=0.05, help="median seconds of a test (a build: twice that)")
    ap.add_argument("--holds", action="store_true", help="shared output holds on every dependency (no writer)")
    args = ap.parse_args()
    print(f"schedule quality: {args.packages}-package DAGs, {args.slots} slots, build/test/lint sleep log-normal "
          f"(median {args.scale * 2:g}/{args.scale:g}/{args.scale:g} s, sigma 0.8), in-process, real threads")
    print(f"{'seed':>4} {'lower bound s':>13} {'priority':>9} {'file order':>10}")
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for seed in SEEDS:
        specs = layered_specs(args.packages, seed=seed)
        order = [s.short for s in specs]
        deps = {s.short: list(s.deps) for s in specs}
        d = durations(order, seed, args.scale)
        bound = lower_bound(order, deps, d, args.slots)
        row = {}
        for prioritized in (True, False):
            row[prioritized] = makespan(order, deps, d, args.slots, prioritized, args.holds) / bound
            ratios[prioritized].append(row[prioritized])
        print(f"{seed:>4} {bound:>13.2f} {row[True]:>9.3f} {row[False]:>10.3f}")
    print(f"mean makespan / lower bound: priority {statistics.mean(ratios[True]):.3f}, "
          f"file order {statistics.mean(ratios[False]):.3f} (max {max(ratios[True]):.3f} / {max(ratios[False]):.3f})")


if __name__ == "__main__":
    main()
