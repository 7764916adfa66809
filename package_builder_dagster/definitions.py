"""The one factory that builds the Dagster `Definitions` for a workspace.

`dagster dev -w workspace.yaml` loads `defs` from here; it reads PACKAGE_BUILDER_CONFIG and
PACKAGE_BUILDER_WORKSPACE (and the other PACKAGE_BUILDER_* variables) from the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import dagster as dg

from .assets import build_package_assets, build_suite_assets
from .config import ENV_KEYS, BuildConfig, load_config
from .graph import WorkspaceGraph
from .resources import PackageManagerResource
from .sensors import build_change_sensors, build_report_sensors
from .workspace import discover_for
from .translator import PackageTranslator

JOB_NAME = "build_packages"


def build_definitions(
    config: BuildConfig, graph: WorkspaceGraph | None = None, translator: PackageTranslator | None = None
) -> dg.Definitions:
    """Package assets (with their quality checks), suite verification, suite summary and the job."""
    graph = graph or discover_for(config)
    translator = translator or PackageTranslator()
    if config.dagster.grouping == "all":
        executor: dg.ExecutorDefinition = dg.in_process_executor
    else:
        executor = dg.multiprocess_executor.configured({"max_concurrent": config.maxConcurrentBuilds})
    assets = [*build_package_assets(config, graph, translator), *build_suite_assets(config, graph, translator)]
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        description=f"Build every package of {graph.root.name} in dependency order, then verify and summarize.",
        tags={"package-builder/workspace": str(graph.root)[-63:].replace("/", "_")},
    )
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        sensors=[*build_report_sensors(config, graph, translator, job), *build_change_sensors(graph, translator, job)],
        executor=executor,
        resources={
            "package_manager": PackageManagerResource(
                workspace_root=str(graph.root), command_timeout_seconds=config.commandTimeoutSeconds
            )
        },
    )


def _env_fingerprint() -> tuple[str | None, ...]:
    return tuple(os.environ.get(k) for k in ("PACKAGE_BUILDER_CONFIG", "DAGSTER_HOME", *ENV_KEYS))


@lru_cache(maxsize=4)
def _load(fingerprint: tuple[str | None, ...]) -> dg.Definitions:
    return build_definitions(load_config())


def load_from_env() -> dg.Definitions:
    """Definitions for the workspace the environment names (what `dagster dev` and run workers load)."""
    return _load(_env_fingerprint())


def package_job() -> dg.JobDefinition:
    """Module-level target for `dagster.reconstructable`: the job over the environment's workspace."""
    return load_from_env().resolve_job_def(JOB_NAME)


def __getattr__(name: str) -> Any:  # `defs` is built on first access, not at import
    if name == "defs":
        return load_from_env()
    raise AttributeError(name)
