"""INITIALIZE as plain data: the workspace graph with each package's plan path, quality checks,
declared outputs, code version and cache key. No Dagster here, so `build --stale` can decide
"up to date" before importing it."""

from __future__ import annotations

from package_builder_dagster.discovery.cache_keys import assign_cache_keys
from package_builder_dagster.discovery.code_versions import assign_code_versions, output_globs
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph, assign_plan_paths, discover
from package_builder_dagster.discovery.package_managers import detect_package_manager
from package_builder_dagster.discovery.turbo.plan import assign_turbo, link_tasks
from package_builder_dagster.errors import ToolMissing


def discover_for(config: BuildConfig, versions_only: bool = False) -> WorkspaceGraph:
    """The workspace the config names, every package resolved against the config. `versions_only`:
    just what the code versions need (no import scan, no cache keys), for `build --stale`'s fast path."""
    undeclared = "skip" if versions_only else config.undeclaredDependencies
    graph = discover(config.root, config.masterPlan, config.buildId, config.layerViolations, undeclared)
    assign_plan_paths(graph, config.plans_dir)
    assign_turbo(graph, config)
    for pkg in graph:
        pkg.quality_checks = config.checks_for(pkg.settings, f"config error in {pkg.path}/package.json packageBuilder.quality",
                                               pkg.scripts)
        pkg.output_globs = output_globs(config, pkg)
    link_tasks(graph)
    assign_code_versions(graph, config)
    if versions_only:
        return graph
    try:
        pm = detect_package_manager(graph.root)
    except ToolMissing:
        pm = None
    assign_cache_keys(graph, config, pm)
    return graph
