"""One persistent Dagster instance (SQLite) per workspace."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from .config import BuildConfig

DAGSTER_YAML = """\
# Written by package-builder: a local instance on SQLite (the default storage) in this folder.
telemetry:
  enabled: false
"""


def prepare_home(config: BuildConfig) -> Path:
    """$DAGSTER_HOME, else the config's dagster.home, else <workspaceRoot>/production/.dagster."""
    home = config.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)  # child processes (run workers, the UI) share it
    return home


def get_instance(config: BuildConfig) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(prepare_home(config)))
