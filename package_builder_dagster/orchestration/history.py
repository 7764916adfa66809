"""Task durations from earlier runs, read from the Dagster event log, as weights for the
critical-path priority (`execution.priority`).

Each package's latest materialization carries its record, whose steps hold the measured duration
of every command; a package with none (a fresh instance) gets the default weights.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.execution.priority import PackageWeights, package_priorities, task_priorities, weights_from_steps
from package_builder_dagster.execution.record import RECORD_KEY
from package_builder_dagster.orchestration.translator import PackageTranslator


@dataclass
class Priorities:
    """A run's task priorities and what they were computed from (stated in the run summary)."""

    tasks: dict[tuple[str, str], float]
    packages: dict[str, float]
    basis: str

    def of(self, package: str, task: str) -> float:
        return self.tasks.get((package, task), 0.0)


def history_weights(instance: Any, graph: WorkspaceGraph, translator: PackageTranslator, names: list[str]) -> dict[str, PackageWeights]:
    """The measured weights of the packages in `names` that an earlier run built (cache hits are not measurements)."""
    keys = {translator.get_asset_key(graph[n]): n for n in names}
    found: dict[str, PackageWeights] = {}
    for key, entry in instance.get_latest_materialization_events(list(keys)).items():
        mat = entry.asset_materialization if entry is not None else None
        record = mat.metadata.get(RECORD_KEY) if mat is not None else None
        if record is None or ((record.value.get("cache") or {}).get("hit")):
            continue
        weights = weights_from_steps(record.value.get("steps") or [])
        if weights.build or weights.test or weights.checks:
            found[keys[key]] = weights
    return found


def remembered_rewriters(instance: Any, graph: WorkspaceGraph, translator: PackageTranslator, names: list[str],
                         warn: Callable[[str], None] | None = None) -> dict[str, list[str]]:
    """Each package's tasks (after its build) whose outputs changed under them in its latest recorded
    run (`rewrote_outputs`): the scheduler keeps them apart from dependents (execution.output_hazards)."""
    if instance is None:
        return {}
    keys = {translator.get_asset_key(graph[n]): n for n in names}
    found: dict[str, list[str]] = {}
    try:
        for key, entry in instance.get_latest_materialization_events(list(keys)).items():
            mat = entry.asset_materialization if entry is not None else None
            record = mat.metadata.get(RECORD_KEY) if mat is not None else None
            tasks = (record.value.get("rewrote_outputs") or []) if record is not None else []
            if tasks:
                found[keys[key]] = [str(t) for t in tasks]
    except Exception as exc:  # noqa: BLE001 -- the script text still protects; never fail a run over history
        if warn:
            warn(f"no output rewrites from earlier runs ({type(exc).__name__}: {exc})")
    return found


def run_priorities(instance: Any, graph: WorkspaceGraph, translator: PackageTranslator, order: list[str],
                   warn: Callable[[str], None] | None = None) -> Priorities:
    """Critical-path priorities for `order`, from the instance's history where it has any."""
    try:
        measured = history_weights(instance, graph, translator, order) if instance is not None else {}
    except Exception as exc:  # noqa: BLE001 -- a priority is an optimisation: never fail a run over it
        if warn:
            warn(f"no durations from earlier runs ({type(exc).__name__}: {exc}); priority uses default weights")
        measured = {}
    deps = {n: graph[n].dependencies for n in order}
    basis = f"critical-path from history of {len(measured)} packages" if measured else "critical-path with default weights"
    return Priorities(task_priorities(order, deps, measured), package_priorities(order, deps, measured), basis)


def op_priorities(graph: WorkspaceGraph, translator: PackageTranslator) -> dict[str, int]:
    """Per-package grouping: each package's `dagster/priority` op tag (higher runs first), from the
    instance at $DAGSTER_HOME when there is one. Whole seconds of the longest chain after it."""
    order = list(graph.packages)
    # A step's own process (multiprocess executor) loads the definitions too, but only the process
    # that plans the run reads the tags: skip the instance there (it costs every step time).
    if not os.environ.get("DAGSTER_HOME") or multiprocessing.parent_process() is not None:
        return {n: int(round(p)) for n, p in run_priorities(None, graph, translator, order).packages.items()}
    try:
        with dg.DagsterInstance.get() as instance:
            priorities = run_priorities(instance, graph, translator, order)
    except Exception:  # noqa: BLE001 -- no readable instance: default weights
        priorities = run_priorities(None, graph, translator, order)
    return {n: int(round(p)) for n, p in priorities.packages.items()}
