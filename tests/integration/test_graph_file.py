"""The run carries the discovered workspace: its processes read the graph file instead of discovering."""

from __future__ import annotations

import json

import pytest

from package_builder_dagster.discovery.config import load_config
from package_builder_dagster.discovery.graph_file import load_graph, save_graph
from package_builder_dagster.discovery.workspace import discover_for
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.orchestration import definitions
from package_builder_dagster.orchestration.translator import PackageTranslator


@pytest.fixture
def config(tmp_path):
    root = generate(tmp_path / "ws", [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"])], kind="trivial")
    return load_config(None, {}, str(root))


def test_a_graph_file_round_trips_and_is_read_only_for_its_own_root(config, tmp_path):
    graph = discover_for(config)
    path = save_graph(graph, tmp_path / "graphs")
    again = load_graph(path, config.root)
    assert again is not None and list(again.packages) == list(graph.packages)
    assert [p.code_version for p in again] == [p.code_version for p in graph]
    assert type(again["@ex/a"].quality_checks[0]) is type(graph["@ex/a"].quality_checks[0])
    assert load_graph(path, tmp_path / "elsewhere") is None  # a worker's clone discovers for itself
    data = json.loads(path.read_text())
    data["root"] = str(tmp_path)
    path.write_text(json.dumps(data))  # no longer the content its name says
    assert load_graph(path, tmp_path) is None
    assert load_graph(tmp_path / "graphs" / "missing.json", config.root) is None


def test_the_run_s_job_is_built_from_the_graph_file_without_discovering(config, monkeypatch):
    graph = discover_for(config)
    kwargs = dict(definitions.reconstructable_job(config, PackageTranslator(), graph).repository.pointer.reconstructable_kwargs)
    monkeypatch.setattr(definitions, "discover_for", lambda *a, **k: pytest.fail("discovered again"))
    job = definitions.job_from_args(kwargs["config"], kwargs["translator"], kwargs["graph_file"])
    assert job.name == definitions.JOB_NAME
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {"ex/a", "ex/b"}
