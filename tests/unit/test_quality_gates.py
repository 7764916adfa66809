"""The built-in checks are predefined gates read through the one parser registry (in process, no command runs)."""

from __future__ import annotations

import json

from package_builder_dagster.discovery import config as settings
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.output_parsers import PARSERS, parse_coverage_summary
from package_builder_dagster.execution.package_pipeline import PackagePipeline
from package_builder_dagster.execution.quality_gates import PREDEFINED_PARSERS
from package_builder_dagster.execution.record import PackageRecord


def test_the_parser_registry_is_what_a_gate_may_choose_and_what_the_builtins_read_with():
    assert set(PARSERS) == set(settings.PARSERS)
    assert set(PREDEFINED_PARSERS) == set(settings.BUILTIN_CHECKS) and set(PREDEFINED_PARSERS.values()) <= set(PARSERS)


def test_the_builtin_coverage_check_and_the_coverage_summary_parser_read_one_summary(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    pkg = Package("@ex/p", "1.0.0", "pkg", folder, [], {"test": "true"})
    (pkg.dir / "coverage").mkdir()
    (pkg.dir / "coverage" / "coverage-summary.json").write_text(json.dumps({"total": {
        "lines": {"pct": 61.5}, "statements": {"pct": 60}, "functions": {"pct": 50}, "branches": {"pct": 40}}}))
    config = BuildConfig(workspaceRoot=tmp_path)
    pipeline = PackagePipeline(config, None, CommandRunner(60), config.logs_dir, lambda *a: None)  # type: ignore[arg-type]
    out = PackageRecord(package=pkg.name)
    check = pipeline.gates.check_coverage(pkg, out, "", True)
    [failure] = parse_coverage_summary(pkg.dir, 80.0, "run test")
    assert check.description == failure.message == "line coverage 61.5% is below 80%"
    assert out.coverage == {"lines": 61.5, "statements": 60.0, "functions": 50.0, "branches": 40.0}
