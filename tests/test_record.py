"""The typed package record: one model for the writer and every reader, versioned, loud on bad data,
stored as Dagster structured events (materialization metadata, or an observation for a failure)."""

from __future__ import annotations

import dagster as dg
import pytest

from conftest import workspace_instance
from package_builder_dagster.execution.output_parsers import Failure
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.execution.package_pipeline import CheckOutcome, PackageOutcome
from package_builder_dagster.reporting.record import RECORD_KEY, PackageRecord, parse_record
from package_builder_dagster.errors import RecordError


def test_a_record_round_trips_and_a_bad_one_fails_loudly():
    outcome = PackageOutcome(name="@ex/a", status="failed", phase="quality", error="lint failed", duration_ms=12,
                             checks={"lint": CheckOutcome("lint", False, True, "1 lint error(s)")},
                             failures=[Failure("lint", "unused", "src/a.ts", 3, "no-unused-vars", "run lint", "TAIL")])
    data = PackageRecord.from_outcome(outcome, "2026-01-01T00:00:00+00:00").to_json()
    record = parse_record(data, "test")
    assert record.status == "failed" and record.checks["lint"].ran and record.failures[0].output_tail is None
    renamed = {**data, "lintErrors": data.pop("lint_errors")}  # a field renamed by a writer of another version
    with pytest.raises(RecordError, match="lintErrors"):
        parse_record(renamed, "run r1")
    with pytest.raises(RecordError, match="version"):
        parse_record({**data, "version": 3}, "run r1")  # a version this one does not know


def test_failed_and_blocked_packages_are_observations_with_their_record(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("a", "core", inject={"build-fail"}), PackageSpec("b", "utility", ["a"])],
                    kind="trivial")
    assert cli("build", "--workspace", str(root)).code == 1
    instance = workspace_instance(root)
    observed = {}
    for key in (dg.AssetKey(["ex", "a"]), dg.AssetKey(["ex", "b"])):
        records = instance.fetch_observations(key, limit=1).records
        observed[key.to_user_string()] = parse_record(records[0].asset_observation.metadata[RECORD_KEY].value, "test")
    assert observed["ex/a"].state == "failed" and observed["ex/a"].phase == "build"
    assert observed["ex/b"].state == "blocked" and observed["ex/b"].blocked_by == "@ex/a"
