"""The typed package record: one model for the writer and every reader, versioned, loud on bad data,
stored as Dagster structured events (materialization metadata, or an observation for a failure)."""

from __future__ import annotations

import dagster as dg
from conftest import workspace_instance

from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.execution.record import RECORD_KEY, parse_record


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
