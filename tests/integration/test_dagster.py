"""Dagster integration: definitions load, the UI shows every package, per-package steps, Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from package_builder_dagster.examples import example_suite, generate

DAGSTER_BIN = Path(sys.executable).parent


def _env(root: Path, **extra: str) -> dict[str, str]:
    home = root / "production" / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKAGE_BUILDER_")}
    return {**env, "PACKAGE_BUILDER_WORKSPACE": str(root), "DAGSTER_HOME": str(home), **extra}


def test_dagster_definitions_validate(tmp_path):
    root = generate(tmp_path / "ws", example_suite(), kind="trivial")
    proc = subprocess.run([str(DAGSTER_BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=REPO, env=_env(root), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_definitions_without_a_workspace_fail_clearly():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKAGE_BUILDER_")}
    proc = subprocess.run([sys.executable, "-c", "import package_builder_dagster.orchestration.definitions as d; d.defs"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no workspace given" in proc.stderr
