"""The flags most commands share (`--workspace`, `--config`, the plan's) and the BuildConfig they make.

A flag wins over its environment variable, which wins over the config file, which wins over the default."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from package_builder_dagster.discovery.config import BuildConfig, find_config_file, load_config

F = TypeVar("F", bound=Callable[..., Any])


def workspace_options(plan: bool = True) -> Callable[[F], F]:
    """`--workspace/-w` and `--config/-c`; with `plan`, `--master-plan` and `--suite` too."""
    options = [
        click.option("--workspace", "-w", metavar="DIR", help="monorepo root (env PACKAGE_BUILDER_WORKSPACE)"),
        click.option("--config", "-c", metavar="FILE", help="build-env.json (env PACKAGE_BUILDER_CONFIG)"),
    ]
    if plan:
        options += [
            click.option("--master-plan", metavar="FILE", help="master plan markdown (env PACKAGE_BUILDER_MASTER_PLAN)"),
            click.option("--suite", metavar="BUILD_ID", help="build only this suite package and what it needs (env PACKAGE_BUILDER_SUITE)"),
        ]

    def decorate(command: F) -> F:
        for option in reversed(options):  # --help lists them in this order
            command = option(command)
        return command

    return decorate


def json_option(command: F) -> F:
    """`--json`: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="machine-readable output")(command)


@dataclass(frozen=True)
class ConfigFlags:
    """The flags that set configuration keys (each also has a variable and a config key)."""

    workspace: str | None = None
    config: str | None = None
    master_plan: str | None = None
    suite: str | None = None
    concurrency: int | None = None
    publish: bool = False
    publish_dry_run: bool = False
    registry: str | None = None
    cache: str | None = None

    def overrides(self) -> dict[tuple[str, ...], Any]:
        """The config keys these flags set."""
        overrides: dict[tuple[str, ...], Any] = {}
        if self.master_plan:
            overrides[("masterPlan",)] = str(Path(self.master_plan).resolve())
        if self.suite:
            overrides[("buildId",)] = self.suite
        if self.concurrency is not None:
            overrides[("maxConcurrentBuilds",)] = self.concurrency
        if self.publish or self.publish_dry_run:
            overrides[("publishing", "enabled")] = True
        if self.publish_dry_run:
            overrides[("publishing", "dryRun")] = True
        if self.registry:
            overrides[("npmRegistry",)] = self.registry
        if self.cache:
            overrides[("cache", "mode")] = self.cache
        return overrides

    def load(self) -> BuildConfig:
        """The resolved config; a bad key, or no workspace at all, is a UsageError here."""
        config = load_config(self.config, self.overrides(), self.workspace)
        config.root  # noqa: B018 - raises the "no workspace" error early
        return config


def export_env(flags: ConfigFlags, config: BuildConfig) -> None:
    """Hand the resolved inputs to the definitions that Dagster loads (same precedence)."""
    path = find_config_file(flags.config, flags.workspace or str(config.root))
    if path:
        os.environ["PACKAGE_BUILDER_CONFIG"] = str(path)
    os.environ["PACKAGE_BUILDER_WORKSPACE"] = str(config.root)
    for env, value in (
        ("PACKAGE_BUILDER_MASTER_PLAN", config.masterPlan),
        ("PACKAGE_BUILDER_SUITE", config.buildId),
        ("PACKAGE_BUILDER_CONCURRENCY", config.maxConcurrentBuilds),
        ("PACKAGE_BUILDER_REPORTS_DIR", config.reportsDir),
        ("PACKAGE_BUILDER_REGISTRY", config.npmRegistry),
        ("PACKAGE_BUILDER_PUBLISH", "true" if config.publishing.enabled else None),
        ("PACKAGE_BUILDER_PUBLISH_DRY_RUN", "true" if config.publishing.dryRun else None),
        ("PACKAGE_BUILDER_CACHE", config.cache.mode),
    ):
        if value is not None:
            os.environ[env] = str(value)


def shown(value: str, limit: int = 80) -> str:
    """A user's value as an error message quotes it: escaped, and cut when very long."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"… ({len(value)} characters)"
