"""turbo.json / turbo.jsonc decides each package's tasks, edges and cache inputs (issue 24): checked
against turbo's own `turbo run build test lint --dry=json` on a generated workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from turbo_workspace import TURBO_JSONC, make_turbo_workspace, turbo_dry, turbo_runs

from package_builder_dagster.discovery.config import load_config
from package_builder_dagster.discovery.workspace import discover_for


def _ours(root: Path) -> dict[tuple[str, str], set[tuple[str, str]]]:
    graph = discover_for(load_config(workspace=root))
    return {(pkg.name, t.name): {tuple(a.split("#", 1)) for a in t.after} for pkg in graph for t in pkg.turbo.tasks}


def _closure(edges: dict[tuple[str, str], set[tuple[str, str]]], node: tuple[str, str]) -> set[tuple[str, str]]:
    seen, stack = set(), list(edges.get(node, ()))
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(edges.get(dep, ()))
    return seen


def test_tasks_and_edges_are_turbos(tmp_path, toolchain):
    root = make_turbo_workspace(tmp_path / "ws")
    dry = turbo_dry(root, toolchain)
    theirs = {(t["package"], t["task"]): {tuple(d.split("#", 1)) for d in t["dependencies"]} for t in dry["tasks"]}
    runs = turbo_runs(dry)
    ours = _ours(root)
    assert set(ours) == set(runs)
    assert ("tt-gen", "bundle") in ours and ("tt-gen", "types") in ours  # beyond the phases, because others need them
    assert ("tt-core", "lint") not in ours  # no script: turbo lists it as <NONEXISTENT>, nothing runs
    for node, deps in runs.items():
        assert {d for d in deps if d in runs} <= ours[node], node  # every edge turbo lists between tasks that run
        assert ours[node] <= _closure(theirs, node), node  # and nothing it does not imply
    assert ("tt-gen", "bundle") in ours[("tt-app", "test")] and ("tt-gen", "types") in ours[("tt-esm", "build")]


def _keys(root: Path) -> dict[str, str]:
    return {pkg.name: pkg.cache_key for pkg in discover_for(load_config(workspace=root))}


def _hashes(root: Path, toolchain: Path) -> dict[str, tuple[str, ...]]:
    dry = turbo_dry(root, toolchain)
    by_package: dict[str, list[str]] = {}
    for task in sorted(dry["tasks"], key=lambda t: t["taskId"]):
        if task["command"] != "<NONEXISTENT>":
            by_package.setdefault(task["package"], []).append(task["hash"])
    return {name: tuple(hashes) for name, hashes in by_package.items()}


EDITS = {
    "file inside inputs": lambda root: (root / "packages/tt-core/src/index.js").write_text("module.exports = 2;\n"),
    "file outside inputs": lambda root: (root / "packages/tt-core/README.md").write_text("# changed\n"),
    "build env variable": lambda root: os.environ.__setitem__("TT_BUILD_MODE", "production"),
    "global env variable": lambda root: os.environ.__setitem__("TT_GLOBAL", "1"),
    "passThroughEnv value": lambda root: os.environ.__setitem__("TT_PASS", "1"),
    "globalDependencies file": lambda root: (root / "shared/settings.txt").write_text("two\n"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_cache_key_changes_iff_turbos_hash_does(tmp_path, toolchain, monkeypatch, edit):
    for name in ("TT_BUILD_MODE", "TT_GLOBAL", "TT_PASS"):
        monkeypatch.delenv(name, raising=False)
    root = make_turbo_workspace(tmp_path / "ws")
    keys, hashes = _keys(root), _hashes(root, toolchain)
    EDITS[edit](root)
    new_keys, new_hashes = _keys(root), _hashes(root, toolchain)
    ours = {n for n in keys if keys[n] != new_keys[n]}
    theirs = {n for n in hashes if hashes[n] != new_hashes[n]}
    assert ours == theirs, edit
    expected_some = edit not in ("file outside inputs", "passThroughEnv value")
    assert bool(ours) == expected_some, edit  # the edit really is one that turbo sees (or ignores)


def test_graph_json_lists_each_packages_tasks_and_explain_names_turbo_inputs(tmp_path, toolchain, cli):
    root = make_turbo_workspace(tmp_path / "ws")
    result = cli("graph", "--workspace", str(root), "--json")
    assert result.code == 0, result.output
    packages = {p["name"]: p for p in json.loads(result.stdout)["packages"]}
    app_test = next(t for t in packages["tt-app"]["tasks"] if t["task"] == "test")
    assert app_test["phase"] == "test" and sorted(app_test["dependsOn"]) == ["tt-app#build", "tt-gen#bundle"]
    assert "tt-gen" in packages["tt-leaf"]["dependencies"]  # its lint waits for tt-gen#types: tt-gen is built first
    assert any("tt-leaf#lint waits for a task of tt-gen" in w for w in json.loads(result.stdout)["warnings"])
    gen = {t["task"]: t for t in packages["tt-gen"]["tasks"]}
    assert gen["gen"]["runs"] == "build" and gen["bundle"]["runs"] == "after" and gen["bundle"]["phase"] is None
    explained = cli("explain", "tt-core", "--workspace", str(root))
    assert explained.code == 0, explained.output
    assert "turbo.json inputs: build" in explained.stdout and "turbo.json global files" in explained.stdout


@pytest.mark.parametrize("broken, message", [
    (TURBO_JSONC.replace('"gen": {', '"gen": {{'), "turbo.jsonc: not valid JSON"),
    (TURBO_JSONC.replace('"outputs": ["gen/**"]', '"outputs": "gen/**"'), "tasks.gen.outputs: must be a list of strings"),
    (TURBO_JSONC.replace('"lint": {}', '"lint": {"persistent": true}'), "tt-app#lint, tt-gen#lint are persistent"),
    (TURBO_JSONC.replace('"outputs": ["gen/**"]', '"outputs": ["../../../etc/**"]'), "tasks.gen.outputs: '../../../etc/**' leaves"),
    (TURBO_JSONC.replace('"outputs": ["gen/**"]', '"outputs": ["!/tmp/x"]'), "tasks.gen.outputs: '!/tmp/x' leaves"),
    (TURBO_JSONC.replace('"outputs": ["gen/**"]', '"outputs": ["$TURBO_ROOT$/gen/**"]'), "tasks.gen.outputs: '$TURBO_ROOT$/gen/**' leaves"),
])
def test_bad_or_persistent_turbo_json_is_refused_with_exit_2(tmp_path, toolchain, cli, broken, message):
    root = make_turbo_workspace(tmp_path / "ws", broken)
    for command in (["graph"], ["build"]):
        result = cli(*command, "--workspace", str(root))
        assert result.code == 2, result.output
        assert message in result.stderr and str(root / "turbo.jsonc") in result.stderr
