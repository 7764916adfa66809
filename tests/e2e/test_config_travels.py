"""Config and translator travel with the run: a run's steps rebuild the same definitions from the
run's own origin, in other processes, with no PACKAGE_BUILDER_* variable anywhere."""

from __future__ import annotations

import json
import os

from package_builder_dagster.discovery.config import load_config
from package_builder_dagster.discovery.workspace import discover_for
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.orchestration.instance import get_instance
from package_builder_dagster.orchestration.launch import execute_build
from package_builder_dagster.orchestration.translator import PackageTranslator


class TeamTranslator(PackageTranslator):
    """A team's own naming: every package in the group `team_<category>`."""

    def get_group_name(self, pkg) -> str:
        return f"team_{pkg.category or 'none'}"


def test_a_translator_subclass_and_the_config_reach_every_step_process(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PACKAGE_BUILDER_"):
            monkeypatch.delenv(name)
    root = generate(tmp_path / "ws", [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"])], kind="trivial")
    config_file = tmp_path / "build-env.json"
    config_file.write_text(json.dumps({"dagster": {"grouping": "per-package", "home": str(tmp_path / "home")},
                                       "cache": {"mode": "off"}, "maxConcurrentBuilds": 2}))
    config = load_config(config_file, workspace=root)
    graph = discover_for(config)
    translator = TeamTranslator()
    keys = {translator.get_asset_key(p) for p in graph}
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    instance = get_instance(config)
    result = execute_build(instance, config, translator, keys)
    assert result.success
    assert not any(k.startswith("PACKAGE_BUILDER_") for k in os.environ)
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert len(steps) == 2  # one step (its own process) per package
    groups = {}
    for key in keys:
        meta = instance.get_latest_materialization_event(key).asset_materialization.metadata
        groups[key.to_user_string()] = meta["group"].value
    assert groups == {"ex/core-a": "team_core", "ex/util-b": "team_utility"}


class CountingTranslator(PackageTranslator):
    """Notes the pid of every process that builds the package assets (one line per asset spec)."""

    def get_asset_spec(self, pkg, graph):
        with open(os.environ["PB_TEST_SPEC_PIDS"], "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return super().get_asset_spec(pkg, graph)


def test_per_package_step_processes_start_with_the_job_built(tmp_path, monkeypatch):
    """The forkserver the steps are forked from builds the run's job once (step_preload.py): no step
    process builds the definitions again, and no step process sees the variable that named the job."""
    pids = tmp_path / "spec-pids"
    monkeypatch.setenv("PB_TEST_SPEC_PIDS", str(pids))
    root = generate(tmp_path / "ws", [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]),
                                      PackageSpec("util-c", "utility", ["core-a"])], kind="trivial")
    for manifest in root.glob("packages/*/*/package.json"):  # each build notes whether it saw the variable
        data = json.loads(manifest.read_text())
        data["scripts"]["build"] = "node -e \"require('fs').writeFileSync('saw-job-env', String('PACKAGE_BUILDER_RUN_JOB' in process.env))\""
        manifest.write_text(json.dumps(data))
    config_file = tmp_path / "build-env.json"
    config_file.write_text(json.dumps({"dagster": {"grouping": "per-package", "home": str(tmp_path / "home")},
                                       "cache": {"mode": "off"}, "maxConcurrentBuilds": 2}))
    config = load_config(config_file, workspace=root)
    translator = CountingTranslator()
    keys = {translator.get_asset_key(p) for p in discover_for(config)}
    instance = get_instance(config)
    result = execute_build(instance, config, translator, keys)
    assert result.success
    step_pids = {e.pid for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert len(step_pids) == 3  # a process of its own per package
    building = {int(line) for line in pids.read_text().split()}
    assert building and not building & step_pids, (building, step_pids)
    assert {p.read_text() for p in root.glob("packages/*/*/saw-job-env")} == {"false"}
