"""Workspace discovery: order, categories, layers, and the errors that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_builder_dagster.discovery.graph import discover
from package_builder_dagster.errors import UsageError
from package_builder_dagster.examples import PackageSpec, example_suite, generate


def _ws(tmp_path: Path, specs, **kw) -> Path:
    return generate(tmp_path / "ws", specs, kind="trivial", **kw)


def _pkg(root: Path, folder: str, name: str, deps: dict | None = None, **extra) -> None:
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    (d / "package.json").write_text(json.dumps({"name": name, "version": "1.2.3", "dependencies": deps or {}, **extra}))


def test_dependency_order_categories_and_layers(tmp_path):
    graph = discover(_ws(tmp_path, example_suite()))
    order = list(graph.packages)
    for pkg in graph:
        for dep in pkg.dependencies:
            assert order.index(dep) < order.index(pkg.name), (dep, pkg.name)
    assert graph["@ex/validate-email"].category == "validator" and graph["@ex/validate-email"].layer == 0
    assert graph["@ex/http-client"].layer == 2
    assert graph["@ex/example-suite"].category == "suite" and graph["@ex/example-suite"].layer == 5
    assert graph["@ex/notifier"].dependencies == ["@ex/http-client", "@ex/validate-email"]


def test_without_categories_layer_is_graph_depth(tmp_path):
    specs = [PackageSpec("a"), PackageSpec("b", deps=["a"]), PackageSpec("c", deps=["b", "a"]), PackageSpec("d")]
    graph = discover(_ws(tmp_path, specs))
    assert {p.name: (p.category, p.layer) for p in graph} == {
        "@ex/a": (None, 0), "@ex/b": (None, 1), "@ex/c": (None, 2), "@ex/d": (None, 0),
    }
    assert graph.to_json()["packages"][0]["category"] is None


def test_category_from_package_json_field(tmp_path):
    specs = [PackageSpec("v", "validator"), PackageSpec("s", "service", ["v"])]
    graph = discover(_ws(tmp_path, specs, category_source="field"))
    assert graph["@ex/s"].category == "service" and graph["@ex/s"].layer == 3


def test_cycle_names_its_packages(tmp_path):
    specs = [PackageSpec("a", deps=["c"]), PackageSpec("b", deps=["a"]), PackageSpec("c", deps=["b"]), PackageSpec("free")]
    with pytest.raises(UsageError) as err:
        discover(_ws(tmp_path, specs))
    message = str(err.value)
    assert message.startswith("dependency cycle:")
    for name in ("@ex/a", "@ex/b", "@ex/c"):
        assert name in message
    assert "@ex/free" not in message


def test_duplicate_names_and_unknown_category(tmp_path):
    root = tmp_path / "dup"
    _pkg(root, ".", "root", workspaces=["libs/*"])
    _pkg(root, "libs/one", "@x/same")
    _pkg(root, "libs/two", "@x/same")
    with pytest.raises(UsageError, match=r"two packages are named @x/same: libs/one and libs/two"):
        discover(root)
    root2 = tmp_path / "cat"
    _pkg(root2, ".", "root", workspaces={"packages": ["libs/*"]})
    _pkg(root2, "libs/one", "@x/one", packageBuilder={"category": "gadget"})
    with pytest.raises(UsageError, match=r"unknown category 'gadget' for @x/one"):
        discover(root2)


def test_layer_violation_error_or_warning(tmp_path):
    specs = [PackageSpec("ui-thing", "ui"), PackageSpec("core-thing", "core", ["ui-thing"])]
    root = _ws(tmp_path, specs)
    with pytest.raises(UsageError, match=r"layer violation: @ex/core-thing \(core, layer 1\) depends on @ex/ui-thing \(ui, layer 4\)"):
        discover(root)
    graph = discover(root, layer_violations="warn")
    assert any("layer violation" in w for w in graph.warnings)


def test_pnpm_workspace_yaml_and_non_internal_deps(tmp_path):
    root = tmp_path / "pn"
    _pkg(root, ".", "root")
    (root / "pnpm-workspace.yaml").write_text("packages:\n  - 'libs/*'\n  - '!libs/skip'\n")
    _pkg(root, "libs/a", "a", {"left-pad": "^1.0.0"})
    _pkg(root, "libs/b", "b", {"a": "workspace:*"}, devDependencies={"typescript": "5"})
    _pkg(root, "libs/skip", "skip")
    graph = discover(root)
    assert list(graph.packages) == ["a", "b"]
    assert graph["b"].dependencies == ["a"] and graph["a"].dependencies == []


def test_master_plan_categories_suite_and_differences(tmp_path):
    specs = [PackageSpec("a"), PackageSpec("b", deps=["a"]), PackageSpec("c", deps=["b"]), PackageSpec("other")]
    root = _ws(tmp_path, specs)
    plan = tmp_path / "plan.md"
    plan.write_text(
        "# Master plan\n\nSuite package: `@ex/c`\n\n## Validators\n- `@ex/a` — depends on: none\n"
        "## Core\n- `@ex/b` — depends on: `@ex/a`, `@ex/other`\n## Suites\n- `@ex/c`\n- `@ex/ghost`\n"
    )
    graph = discover(root, master_plan=plan)
    assert (graph["@ex/a"].category, graph["@ex/b"].category, graph["@ex/c"].category) == ("validator", "core", "suite")
    assert any("@ex/ghost" in w and "not in the workspace" in w for w in graph.warnings)
    assert any("disagree on @ex/b" in w and "@ex/other" in w for w in graph.warnings)
    suite = discover(root, master_plan=plan, suite="c")
    assert list(suite.packages) == ["@ex/a", "@ex/b", "@ex/c"]
    with pytest.raises(UsageError, match="suite 'nope' not found"):
        discover(root, suite="nope")
