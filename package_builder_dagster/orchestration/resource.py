"""The Dagster resource that carries a workspace and its build config into a run and runs its
package manager (in the style of dagster-dbt's DbtCliResource)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.package_managers import PackageManager, detect_package_manager
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.secret_env import hidden_from_commands


class PackageBuilderResource(dg.ConfigurableResource):
    """Builds the packages of one JS/TS workspace. Secrets are never fields: the npm token and the
    remote cache's token are read, where a command runs, from the variables the config names."""

    workspace: str = Field(description="The monorepo's root folder (the one with the root package.json).")
    config_json: str = Field(
        default="{}",
        description="The build config as JSON (build-env.json's keys, resolved), without secrets; `{}` for the defaults.",
    )
    command_timeout_seconds: int = Field(default=1800, description="Timeout of each package script; its process group is killed after it.")

    @classmethod
    def for_config(cls, config: BuildConfig) -> PackageBuilderResource:
        return cls(workspace=str(config.root), config_json=json.dumps(config.portable()),
                   command_timeout_seconds=config.commandTimeoutSeconds)

    def build_config(self) -> BuildConfig:
        """The config this resource carries, for this workspace."""
        return BuildConfig.model_validate({**json.loads(self.config_json), "workspaceRoot": self.workspace})

    def detect(self) -> PackageManager:
        return detect_package_manager(Path(self.workspace))

    def runner(self) -> CommandRunner:
        """A fresh runner: one per step, so cancelling one run never touches another."""
        return CommandRunner(timeout_seconds=self.command_timeout_seconds, hidden_env=hidden_from_commands(self.build_config()))
