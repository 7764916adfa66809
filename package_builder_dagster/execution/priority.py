"""Critical-path priority: run first the work that the longest chain of remaining work waits on.

A task's priority is its own weight plus the heaviest chain of work that depends on it. Weights are
seconds: measured durations from earlier runs where there are any, `DEFAULT_WEIGHTS` otherwise.
Plain Python, no Dagster: the package step's scheduler, the per-package op tag `dagster/priority`
and a distributed executor's priority can all use it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

# Seconds, for a package that no earlier run measured (a fresh instance has no history).
DEFAULT_WEIGHTS = {"build": 3.0, "test": 2.0, "check": 1.0}
# `task_priorities` key of a package's own chain (its build and the longest of its tests and checks):
# the scheduler runs a started package's remaining tasks at least at this priority.
PACKAGE = "package"


def critical_path(weights: Mapping[T, float], successors: Mapping[T, Iterable[T]]) -> dict[T, float]:
    """Each node's weight plus the heaviest chain of successors after it (the graph must be acyclic).

    `successors[n]` are the nodes that wait for `n`; nodes missing from `weights` weigh 0.
    """
    memo: dict[T, float] = {}
    for start in weights:
        stack: list[tuple[T, bool]] = [(start, False)]
        while stack:  # iterative post-order: deep chains never hit the recursion limit
            node, expanded = stack.pop()
            if node in memo:
                continue
            children = list(successors.get(node, ()))
            if expanded:
                memo[node] = weights.get(node, 0.0) + max((memo[c] for c in children), default=0.0)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c not in memo)
    return memo


@dataclass
class PackageWeights:
    """One package's task durations in seconds: its build, its tests and each named check."""

    build: float = DEFAULT_WEIGHTS["build"]
    test: float = DEFAULT_WEIGHTS["test"]
    checks: dict[str, float] = field(default_factory=dict)

    def after_build(self, check_names: Iterable[str] = ()) -> float:
        """The longest of the work that waits for its build (tests and checks run side by side)."""
        checks = [self.checks.get(n, DEFAULT_WEIGHTS["check"]) for n in check_names] or list(self.checks.values())
        return max([self.test, *checks])

    def total(self, check_names: Iterable[str] = ()) -> float:
        names = list(check_names) or list(self.checks)
        return self.build + self.test + sum(self.checks.get(n, DEFAULT_WEIGHTS["check"]) for n in names)


def task_priorities(
    order: list[str], deps: Mapping[str, Iterable[str]], weights: Mapping[str, PackageWeights],
    check_names: Iterable[str] = (),
) -> dict[tuple[str, str], float]:
    """Priorities of the task graph a run schedules: `(package, "build")`, `(package, "test")` and
    `(package, "check:<name>")`. A build's dependents are its package's tests and checks and the
    builds of the packages that depend on it. `(package, PACKAGE)` is the package's own chain: its
    build and the longest of its tests and checks, without its dependents."""
    names = list(check_names)
    selected = set(order)
    w: dict[tuple[str, str], float] = {}
    succ: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for p in order:
        pw = weights.get(p) or PackageWeights()
        after = [(p, "test")] + [(p, f"check:{n}") for n in (names or pw.checks)]
        w[(p, "build")] = pw.build
        w[(p, "test")] = pw.test
        for key in after[1:]:
            w[key] = pw.checks.get(key[1][6:], DEFAULT_WEIGHTS["check"])
        succ.setdefault((p, "build"), []).extend(after)
        for d in deps.get(p, ()):
            if d in selected:
                succ.setdefault((d, "build"), []).append((p, "build"))
    result = critical_path(w, succ)
    for p in order:
        result[(p, PACKAGE)] = w[(p, "build")] + max(result[key] for key in succ[(p, "build")] if key[0] == p)
    return result


def package_priorities(order: list[str], deps: Mapping[str, Iterable[str]], weights: Mapping[str, PackageWeights],
                       check_names: Iterable[str] = ()) -> dict[str, float]:
    """Package-level priorities, for executors that run a package's tasks in one go (per-package
    grouping, a distributed worker): a package weighs all its tasks together."""
    names = list(check_names)
    selected = set(order)
    succ: dict[str, list[str]] = {p: [] for p in order}
    for p in order:
        for d in deps.get(p, ()):
            if d in selected:
                succ[d].append(p)
    w = {p: (weights.get(p) or PackageWeights()).total(names) for p in order}
    return critical_path(w, succ)


def weights_from_steps(steps: Iterable[Mapping[str, object]]) -> PackageWeights:
    """A package's weights from the steps of its last record (`phase`, `script`, `duration_ms`, `status`)."""
    pw = PackageWeights(build=0.0, test=0.0)
    for step in steps:
        if step.get("status") not in ("passed", "failed"):
            continue
        seconds = float(step.get("duration_ms") or 0) / 1000  # type: ignore[arg-type]
        phase, script = step.get("phase"), str(step.get("script"))
        if phase == "build":
            pw.build += seconds
        elif phase == "test":
            pw.test += seconds
        elif phase == "quality":
            name = "typescript" if script.startswith("tsc") else script
            pw.checks[name] = pw.checks.get(name, 0.0) + seconds
    return pw
