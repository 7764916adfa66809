"""A package's turbo.json tasks among its scheduler tasks: each phase task waits for what turbo.json
says it depends on (its own package's tasks by name, other packages' as `(package, task)`), and each
task beyond the phases that runs after the build becomes a task `turbo:<name>` of its own; its failure
fails the package. No Dagster here."""

from __future__ import annotations

from collections.abc import Callable

from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.discovery.turbo.plan import scheduler_task
from package_builder_dagster.execution.scheduler import Task, TaskResult


def turbo_edges(pkg: Package, tasks: list[Task], runner: Callable[[str], Callable[[], TaskResult]]) -> list[Task]:
    """`tasks` (the ones that follow the build) with turbo.json's edges, and its tasks beyond the phases."""
    assert pkg.turbo is not None
    extra = [Task(f"turbo:{t.name}", runner(t.name)) for t in pkg.turbo.extra()]
    every = [*tasks, *extra]
    names = {t.name for t in every} | {"build"}
    by_name = {t.name: t for t in every}
    for turbo_task in pkg.turbo.tasks:
        task = by_name.get(scheduler_task(pkg, turbo_task.name))
        if task is None:
            continue
        for other, name in turbo_task.refs:
            if other != pkg.name:
                task.after.append((other, name))  # a task of another package
            elif name in names and name not in ("build", task.name):
                task.after.append(name)
    return every
