"""PackageBuilderComponent: a Dagster project made with `create-dagster`, the component added with
`dg scaffold defs`, checked, listed and launched with the real `dg` CLI (no PACKAGE_BUILDER_*
variable anywhere); and the component's config resolution in process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from package_builder_dagster.errors import UsageError
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.orchestration.component import PackageBuilderComponent


def _workspace(tmp: Path) -> Path:
    return generate(tmp / "ws", [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"])], kind="trivial")


def test_config_resolution_reads_no_environment(tmp_path, monkeypatch):
    root = _workspace(tmp_path)
    here = tmp_path / "defs" / "monorepo"
    here.mkdir(parents=True)
    for name, value in {"PACKAGE_BUILDER_WORKSPACE": "/nonexistent", "PACKAGE_BUILDER_CONCURRENCY": "7",
                        "PACKAGE_BUILDER_CONFIG": "/nonexistent.json", "PACKAGE_BUILDER_SUITE": "nope"}.items():
        monkeypatch.setenv(name, value)

    # Defaults, workspace relative to the defs.yaml's folder.
    config = PackageBuilderComponent(workspace="../../ws").build_config(here)
    assert config.root == root.resolve() and config.maxConcurrentBuilds == 4 and config.buildId is None
    assert config.dagster.grouping == "all" and config.cache.local.dir is not None

    # The workspace's production/configs/build-env.json, as the CLI reads it.
    own = root / "production" / "configs" / "build-env.json"
    own.parent.mkdir(parents=True)
    own.write_text(json.dumps({"maxConcurrentBuilds": 3, "reportsDir": "../out"}))
    config = PackageBuilderComponent(workspace=str(root), grouping="per-package").build_config(here)
    assert config.maxConcurrentBuilds == 3 and config.reportsDir == (root / "production" / "out").resolve()
    assert config.dagster.grouping == "per-package" and config.configFile == own

    # A config file named in defs.yaml: relative to the defs.yaml's folder; its own paths to itself.
    (here / "build-env.json").write_text(json.dumps({"maxConcurrentBuilds": 5, "reportsDir": "reports"}))
    config = PackageBuilderComponent(workspace=str(root), config="build-env.json").build_config(here)
    assert config.maxConcurrentBuilds == 5 and config.reportsDir == (here / "reports").resolve()

    # Inline: validated like a file, paths relative to the defs.yaml's folder.
    config = PackageBuilderComponent(workspace=str(root), config={"reportsDir": "r", "testing": {"failOnError": False}}).build_config(here)
    assert config.reportsDir == (here / "r").resolve() and config.testing.failOnError is False
    with pytest.raises(UsageError, match="unknown key 'maxConcurrentBuild'"):
        PackageBuilderComponent(workspace=str(root), config={"maxConcurrentBuild": 2}).build_config(here)
    with pytest.raises(UsageError, match="workspace not found"):
        PackageBuilderComponent(workspace="missing").build_config(here)
    assert os.environ["PACKAGE_BUILDER_WORKSPACE"] == "/nonexistent"  # hidden while resolving, then back
