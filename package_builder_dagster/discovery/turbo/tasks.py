"""The (package, task) graph turbo would run: requested tasks, `dependsOn` (`^task`, `task`,
`pkg#task`) followed transitively, and only the tasks a package has a script for (turbo lists the
others as `<NONEXISTENT>` and runs nothing for them: an edge through one becomes an edge to what it
waits for)."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from package_builder_dagster.discovery.turbo.config import TaskDefinition, TurboConfig
from package_builder_dagster.errors import UsageError

TaskId = tuple[str, str]  # (package, task)


@dataclass(frozen=True)
class PackageInfo:
    """What the task graph needs of a package."""

    name: str
    path: str
    scripts: frozenset[str]
    dependencies: tuple[str, ...]  # its workspace dependencies


@dataclass
class TaskGraph:
    """Tasks that run (with a script) and, for each, the tasks that must end before it starts."""

    definitions: dict[TaskId, TaskDefinition]
    after: dict[TaskId, set[TaskId]] = field(default_factory=dict)

    def of(self, package: str) -> list[str]:
        """The package's tasks, in an order that respects their edges among themselves (by name among ready ones)."""
        own = sorted(t for p, t in self.definitions if p == package)
        sorter = graphlib.TopologicalSorter({t: [d for p, d in self.after[(package, t)] if p == package] for t in own})
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        return order

    def edges(self) -> set[tuple[TaskId, TaskId]]:
        """(task, one it depends on), between tasks that run."""
        return {(node, dep) for node, deps in self.after.items() for dep in deps}


def _targets(dep: str, pkg: PackageInfo, packages: Mapping[str, PackageInfo], where: str) -> list[TaskId]:
    if dep.startswith("^"):
        return [(d, dep[1:]) for d in pkg.dependencies if d in packages]
    if "#" in dep:
        other, task = dep.split("#", 1)
        if other == "//":
            return []  # the workspace root's own tasks: not a package here
        if other not in packages:
            raise UsageError(f"{where}: {pkg.name}'s dependsOn names {dep!r}, but there is no package {other!r}")
        return [(other, task)]
    return [(pkg.name, dep)]


def _walk(turbo: TurboConfig, packages: Mapping[str, PackageInfo], requested: Iterable[str]
          ) -> tuple[dict[TaskId, TaskDefinition], dict[TaskId, set[TaskId]]]:
    """Every (package, task) reached from the requested tasks, with its direct dependencies."""
    where = str(turbo.path)
    defs: dict[TaskId, TaskDefinition] = {}
    direct: dict[TaskId, set[TaskId]] = {}
    stack = [(p.name, t) for p in packages.values() for t in requested]
    stack = [node for node in stack if turbo.definition(node[0], packages[node[0]].path, node[1]) is not None]
    while stack:
        node = stack.pop()
        if node in defs:
            continue
        pkg = packages[node[0]]
        definition = turbo.definition(pkg.name, pkg.path, node[1])
        assert definition is not None
        defs[node], direct[node] = definition, set()
        for dep in definition.depends_on:
            for target in _targets(dep, pkg, packages, where):
                other = packages[target[0]]
                if turbo.definition(other.name, other.path, target[1]) is not None:
                    direct[node].add(target)
                    stack.append(target)
    return defs, direct


def _check_acyclic(direct: dict[TaskId, set[TaskId]], where: str) -> None:
    try:
        graphlib.TopologicalSorter(direct).prepare()
    except graphlib.CycleError as exc:
        cycle = " -> ".join(f"{p}#{t}" for p, t in reversed(exc.args[1]))
        raise UsageError(f"{where}: the tasks' dependsOn form a cycle: {cycle}") from None


def task_graph(turbo: TurboConfig, packages: Mapping[str, PackageInfo], requested: Iterable[str]) -> TaskGraph:
    """The tasks turbo would run for `turbo run <requested>` over `packages`, edges collapsed through
    tasks without a script; a persistent task among them is refused (it never ends)."""
    where = str(turbo.path)
    defs, direct = _walk(turbo, packages, list(requested))
    _check_acyclic(direct, where)
    runs = {node for node in defs if node[1] in packages[node[0]].scripts}
    graph = TaskGraph({node: defs[node] for node in sorted(runs)})
    for node in graph.definitions:
        found: set[TaskId] = set()
        stack, seen = list(direct[node]), set()
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            if dep in runs:
                found.add(dep)
            else:
                stack.extend(direct[dep])
        graph.after[node] = found
    persistent = [f"{p}#{t}" for (p, t), d in graph.definitions.items() if d.persistent]
    if persistent:
        raise UsageError(f"{where}: {', '.join(persistent)} {'is' if len(persistent) == 1 else 'are'} persistent "
                         "(`persistent: true`: a task that never ends, such as a dev server); package-builder runs "
                         "tasks to their end, so leave it out of the tasks it runs (turbo.phases and dependsOn)")
    return graph
