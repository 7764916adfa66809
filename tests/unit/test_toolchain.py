"""Running commands (argument lists, process-group timeouts) and reading real tool output."""

from __future__ import annotations

import pytest

from package_builder_dagster.discovery.package_managers import detect_package_manager
from package_builder_dagster.errors import UsageError
from package_builder_dagster.execution.tool_output import coverage_args


def test_missing_package_manager_is_named(tmp_path, monkeypatch):
    (tmp_path / "package.json").write_text('{"packageManager": "pnpm@9.0.0"}')
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(UsageError, match=r"missing tool: pnpm .*packageManager: pnpm@9.0.0"):
        detect_package_manager(tmp_path)


def test_npm_and_pnpm_script_argv():
    from package_builder_dagster.discovery.package_managers import PackageManager

    assert PackageManager("npm", ("npm",), "").run_script("test", ["--x"]) == ["npm", "run", "test", "--", "--x"]
    assert PackageManager("pnpm", ("pnpm",), "").run_script("test", ["--x"]) == ["pnpm", "run", "test", "--x"]
    assert coverage_args("vitest run")[0].startswith("--coverage") and coverage_args("jest --ci")[0] == "--coverage"
    assert coverage_args("node --test") is None and coverage_args("c8 mocha") is None
