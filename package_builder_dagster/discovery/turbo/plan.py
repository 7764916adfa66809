"""Each package's turbo tasks as this tool runs them: which phase each one is, what it waits for.

A task named in `turbo.phases` is that phase (`build`, `test`, `lint`, `typescript`); any other task
runs as a task of its package: inside its build when one of its build tasks waits for it (code
generation before the build), else on its own after the build. No Dagster here.
"""

from __future__ import annotations

from package_builder_dagster.discovery.config import TURBO_PHASES, BuildConfig
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph, dependency_order
from package_builder_dagster.discovery.turbo.config import TurboConfig, load_turbo
from package_builder_dagster.discovery.turbo.model import PackageTurbo, TurboTask, WorkspaceTurbo
from package_builder_dagster.discovery.turbo.tasks import PackageInfo, TaskGraph, task_graph


def phase_scripts(config: BuildConfig, pkg: Package, phase: str) -> list[str]:
    """The scripts of one of this tool's phases for `pkg`: from turbo.json when the workspace has one, else `phases`."""
    if pkg.turbo is not None:
        return pkg.turbo.scripts(phase)
    return list(config.phases.get(phase, []))  # type: ignore[call-overload]


def _phase_of(name: str, phases: dict[str, list[str]]) -> str | None:
    return next((phase for phase in TURBO_PHASES if name in phases.get(phase, [])), None)


def _package_tasks(graph: TaskGraph, name: str, phases: dict[str, list[str]]) -> PackageTurbo:
    order = graph.of(name)
    before_build: set[str] = set()
    for task in reversed(order):  # dependents first: what a build (or a task inside it) waits for
        if _phase_of(task, phases) == "build" or task in before_build:
            before_build |= {t for p, t in graph.after[(name, task)] if p == name and _phase_of(t, phases) is None}
    tasks = []
    for task in order:
        phase = _phase_of(task, phases)
        stage = "phase" if phase else "build" if task in before_build else "after"
        after = sorted(f"{p}#{t}" for p, t in graph.after[(name, task)])
        tasks.append(TurboTask(task, phase, stage, after, graph.definitions[(name, task)]))
    return PackageTurbo(tasks)


def _order_edges(graph: WorkspaceGraph) -> None:
    """A task that waits for a task of a package outside its dependencies orders that package first
    (its asset depends on it too), unless that would close a cycle (then only the task waits)."""
    added = False
    for pkg in graph:
        for task in pkg.turbo.tasks if pkg.turbo else []:
            for other in dict.fromkeys(ref.split("#", 1)[0] for ref in task.after):
                if other == pkg.name or other in graph.upstream({pkg.name}) or pkg.name in graph.upstream({other}):
                    continue
                pkg.dependencies = sorted({*pkg.dependencies, other})
                graph.warnings.append(f"turbo.json: {pkg.name}#{task.name} waits for a task of {other}: {other} is built first")
                added = True
    if added:
        graph.packages = {name: graph.packages[name] for name in dependency_order(graph.packages)}


def assign_turbo(graph: WorkspaceGraph, config: BuildConfig) -> TurboConfig | None:
    """Set each package's `turbo` from the workspace's turbo.json (nothing without one)."""
    turbo = load_turbo(graph.root, {p.path: p.dir for p in graph})
    if turbo is None:
        return None
    phases = config.turbo_phases()
    requested = list(dict.fromkeys(name for phase in TURBO_PHASES for name in phases.get(phase, [])))
    infos = {p.name: PackageInfo(p.name, p.path, frozenset(p.scripts), tuple(p.dependencies)) for p in graph}
    tasks = task_graph(turbo, infos, requested)
    for pkg in graph:
        pkg.turbo = _package_tasks(tasks, pkg.name, phases)
        undefined = {phase: [n for n in names if n in pkg.scripts] for phase, names in phases.items()
                     if not any(turbo.definition(pkg.name, pkg.path, n) for n in names)}
        pkg.turbo.undefined = {phase: scripts for phase, scripts in undefined.items() if scripts}
    _order_edges(graph)
    graph.turbo = WorkspaceTurbo(str(turbo.path.relative_to(graph.root)), list(turbo.global_dependencies),
                                 list(turbo.global_env),
                                 None if turbo.global_pass_through_env is None else list(turbo.global_pass_through_env))
    return turbo


def scheduler_task(pkg: Package, task: str) -> str:
    """The name of the scheduler task of `pkg` that runs turbo task `task` (see execution.package_tasks)."""
    found = pkg.turbo.named(task) if pkg.turbo else None
    if found is None or found.stage == "after":
        return f"turbo:{task}"
    if found.stage == "build" or found.phase == "build":
        return "build"
    if found.phase == "test":
        return "test"
    first_lint = found.phase == "lint" and task == pkg.turbo.scripts("lint")[0]  # the one the lint gate runs
    gate = next((g for g in pkg.quality_checks if g.script == task or (first_lint and g.builtin == "lint")), None)
    return f"check:{gate.name}" if gate else f"turbo:{task}"


def link_tasks(graph: WorkspaceGraph) -> None:
    """Once each package's gates are known: a lint or typescript task no gate runs runs after the build
    on its own, and each task's `after` becomes scheduler task names (`refs`)."""
    for pkg in graph:
        for task in pkg.turbo.tasks if pkg.turbo else []:
            if task.phase in ("lint", "typescript") and scheduler_task(pkg, task.name).startswith("turbo:"):
                task.stage = "after"
    for pkg in graph:
        for task in pkg.turbo.tasks if pkg.turbo else []:
            refs = [tuple(ref.split("#", 1)) for ref in task.after]
            task.refs = [(other, scheduler_task(graph[other], name)) for other, name in refs if other in graph.packages]
