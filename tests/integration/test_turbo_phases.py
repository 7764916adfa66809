"""turbo.json resolved on generated workspaces (discovery runs git and the package manager: integration tier):
which phases run which tasks, the graph file, re-keying after a fix."""

from __future__ import annotations

import json

import pytest
from turbo_workspace import TURBO_JSONC, make_turbo_workspace

from package_builder_dagster.discovery.config import load_config
from package_builder_dagster.discovery.workspace import discover_for


@pytest.mark.parametrize("settings", [{"turbo": {"phases": {"test": [], "build": ["build", "bundle"]}}},
                                      {"phases": {"build": ["build", "bundle"], "test": []}}])
def test_turbo_phases_or_else_phases_choose_the_tasks(tmp_path, settings):
    persistent_test = TURBO_JSONC.replace('"passThroughEnv": ["TT_PASS"]', '"persistent": true')
    root = make_turbo_workspace(tmp_path / "ws", persistent_test)
    config_file = tmp_path / "build-env.json"
    config_file.write_text(json.dumps(settings))
    graph = discover_for(load_config(config_file, workspace=root))  # a persistent test no phase asks for is fine
    tasks = {(pkg.name, t.name): t for pkg in graph for t in pkg.turbo.tasks}
    assert not [key for key in tasks if key[1] == "test"]
    assert tasks[("tt-gen", "bundle")].phase == "build" and graph["tt-gen"].turbo.scripts("build") == ["gen", "build", "bundle"]


def test_a_phase_turbo_json_does_not_define_runs_as_without_it(tmp_path):
    without_test = TURBO_JSONC.replace('"test": {"dependsOn": ["build"], "passThroughEnv": ["TT_PASS"]},', "")
    without_test = without_test.replace('"tt-app#test": {"dependsOn": ["tt-gen#bundle", "build"]},', "")
    root = make_turbo_workspace(tmp_path / "ws", without_test)
    graph = discover_for(load_config(workspace=root))
    # only tt-core's own turbo.json defines `test`: turbo runs that one, and could not run the others
    assert [pkg.name for pkg in graph for t in pkg.turbo.tasks if t.name == "test"] == ["tt-core"]
    assert graph["tt-esm"].turbo.scripts("test") == ["test"] and graph["tt-esm"].turbo.undefined == {"test": ["test"]}
    assert graph["tt-core"].turbo.undefined == {} and graph["tt-leaf"].turbo.scripts("test") == []


def test_the_graph_file_carries_each_packages_turbo_tasks(tmp_path):
    from package_builder_dagster.discovery.graph_file import load_graph, save_graph

    root = make_turbo_workspace(tmp_path / "ws")
    graph = discover_for(load_config(workspace=root))
    again = load_graph(save_graph(graph, tmp_path / "graphs"), root)  # what the run's process reads
    assert again is not None and again.turbo == graph.turbo
    assert all(again[name].turbo == pkg.turbo for name, pkg in graph.packages.items())
    assert again["tt-app"].turbo.named("test").refs == [("tt-app", "build"), ("tt-gen", "turbo:bundle")]


def test_rekey_after_a_fix_hashes_the_tasks_inputs_again(tmp_path):
    from package_builder_dagster.discovery.cache_keys import rekey

    root = make_turbo_workspace(tmp_path / "ws")
    pkg = discover_for(load_config(workspace=root))["tt-core"]
    assert rekey(pkg)[0] == pkg.cache_key  # nothing edited: the same key
    (root / "packages/tt-core/src/index.js").write_text("module.exports = 'fixed';\n")  # what a fix agent does
    fresh = discover_for(load_config(workspace=root))["tt-core"]
    assert fresh.cache_key != pkg.cache_key and rekey(pkg) == (fresh.cache_key, fresh.cache_inputs)


def _key_after_edit(root, package: str, file: str) -> tuple[str, str]:
    before = discover_for(load_config(workspace=root))[package].cache_key
    (root / "packages" / package / file).write_text("edited\n")
    return before, discover_for(load_config(workspace=root))[package].cache_key


def test_a_package_without_turbo_tasks_keeps_its_sources_in_its_key(tmp_path):
    root = make_turbo_workspace(tmp_path / "ws", '{"tasks": {"tt-gen#gen": {}}}')
    assert discover_for(load_config(workspace=root))["tt-leaf"].turbo.tasks == []  # its scripts run as without turbo.json
    before, after = _key_after_edit(root, "tt-leaf", "src/index.js")
    assert before != after


def test_a_phase_outside_turbo_json_keeps_the_package_sources_in_its_key(tmp_path):
    without_test = TURBO_JSONC.replace('"test": {"dependsOn": ["build"], "passThroughEnv": ["TT_PASS"]},', "")
    without_test = without_test.replace('"tt-app#test": {"dependsOn": ["tt-gen#bundle", "build"]},', "")
    root = make_turbo_workspace(tmp_path / "ws", without_test)
    # the build's inputs leave README.md out, but tt-esm's test script runs outside turbo.json and may read it
    before, after = _key_after_edit(root, "tt-esm", "README.md")
    assert before != after
