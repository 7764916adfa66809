"""The seed's COMPLETE: publish each suite package built in this run, once every package it needs at
run time is on the registry. Plain Python (no Dagster here); the suite summary asset calls it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.discovery.package_names import package_path
from package_builder_dagster.execution.package_pipeline import untested_reason
from package_builder_dagster.execution.publishing import Publisher, PublishOutcome, display_url


def publish_suite_packages(
    config: BuildConfig, graph: WorkspaceGraph, publisher: Publisher, built: set[str],
    tests_passed: dict[str, bool | None], log_dir: Path, log: Callable[[str], None],
    on_state: Callable[[str, str, dict[str, Any]], None],
) -> dict[str, PublishOutcome]:
    """Suite package name → what publishing it did. `built`: the packages materialized in this run;
    `on_state(package, state, detail)` reports "publishing" and the "suite-publish" outcome."""
    results: dict[str, PublishOutcome] = {}
    for pkg in (p for p in graph if p.category == "suite"):
        def held(message: str, version: str = pkg.version) -> PublishOutcome:
            return PublishOutcome("skipped", version, display_url(publisher.url), message=message)

        if pkg.name not in built:
            results[pkg.name] = held("not built in this run")
            continue
        reason = untested_reason(config, tests_passed.get(pkg.name))
        needs = graph.runtime_upstream(pkg.name)
        dry_built = {n for n in needs if config.publishing.dryRun and n in built}
        missing = [n for n in needs if n not in dry_built and not publisher.is_available(graph[n])]
        if reason or missing:
            results[pkg.name] = held(reason or f"not on the registry: {', '.join(f'{n}@{graph[n].version}' for n in missing)}")
        else:
            on_state(pkg.name, "publishing", {})
            results[pkg.name] = publisher.publish(pkg, package_path(log_dir, pkg.name))
        result = results[pkg.name]
        log(f"suite package {pkg.name}: {result.status}: {result.message}")
        on_state(pkg.name, "suite-publish", {"publish": {k: v for k, v in asdict(result).items() if k != "detail"}})
    return results
