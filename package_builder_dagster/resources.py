"""The Dagster resource that runs the workspace's package manager."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from .toolchain import CommandRunner, PackageManager, detect_package_manager


class PackageManagerResource(dg.ConfigurableResource):
    """Detects the workspace's package manager and runs commands for it (argument lists, no shell)."""

    workspace_root: str
    command_timeout_seconds: int = 1800

    def detect(self) -> PackageManager:
        return detect_package_manager(Path(self.workspace_root))

    def runner(self) -> CommandRunner:
        """A fresh runner: one per step, so cancelling one run never touches another."""
        return CommandRunner(timeout_seconds=self.command_timeout_seconds)
