"""Issue 20, points 6 and 7: bad input and faults end in one line (exit 2 or 1), never a traceback;
no input destroys or silently accepts what it should not."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from package_builder_dagster.cli.main import main
from package_builder_dagster.discovery.config import load_config
from package_builder_dagster.discovery.graph import discover
from package_builder_dagster.errors import UsageError
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.files import write_json_atomic, write_text_atomic


def _workspace(root: Path, **deps: str) -> Path:
    """A trivial two-package workspace: `@ex/b` depends on `@ex/a` (1.0.0) with the given ranges."""
    generate(root, [PackageSpec("a"), PackageSpec("b", deps=["a"])], kind="trivial")
    if deps:
        manifest = root / "packages" / "b" / "package.json"
        data = json.loads(manifest.read_text())
        data["dependencies"] = deps
        manifest.write_text(json.dumps(data))
    return root


def _one_line(stderr: str) -> str:
    """The single non-empty stderr line (fails on a traceback or several lines)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr[-2000:]
    return lines[0]


# ---- 6: one line instead of a traceback -------------------------------------------------------


def test_os_error_is_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    """An OSError fault is one line (exit 2 for a path that cannot be used); PACKAGE_BUILDER_DEBUG=1
    raises it with its traceback; a real bug (not an OSError) keeps its traceback."""
    workspace = _workspace(tmp_path / "ws")
    config = workspace / "build-env.json"
    config.write_text("{}")

    def fail(exc: Exception) -> None:
        def read(*args, **kwargs):
            raise exc
        monkeypatch.setattr("package_builder_dagster.discovery.config.read_json_object", read)

    fail(PermissionError(13, "Permission denied", str(config)))
    assert main(["graph", "-w", str(workspace), "-c", str(config)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"package-builder: Permission denied: {config}", line
    monkeypatch.setenv("PACKAGE_BUILDER_DEBUG", "1")
    with pytest.raises(PermissionError):
        main(["graph", "-w", str(workspace), "-c", str(config)])
    monkeypatch.delenv("PACKAGE_BUILDER_DEBUG")
    fail(KeyError("a bug"))
    with pytest.raises(KeyError):
        main(["graph", "-w", str(workspace), "-c", str(config)])


def test_registry_that_is_not_a_url_is_refused_before_the_build(tmp_path, monkeypatch, capsys):
    workspace = _workspace(tmp_path / "ws")

    def no_build(*args, **kwargs):
        raise AssertionError("the config accepted --registry 'not a url' and the build went on")

    monkeypatch.setattr("package_builder_dagster.orchestration.definitions.discover_for", no_build)
    assert main(["build", "-w", str(workspace), "--registry", "not a url"]) == 2
    assert "not a registry URL" in _one_line(capsys.readouterr().err)
    for bad in ("ftp://registry.example.com/", "http://", "registry.npmjs.org"):
        with pytest.raises(UsageError, match="not a registry URL"):
            load_config(workspace=workspace, overrides={("npmRegistry",): bad})
    assert load_config(workspace=workspace, overrides={("npmRegistry",): "http://127.0.0.1:4873"}).npmRegistry


# ---- 7: destructive or silent inputs ------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--max-size-mb", "--older-than-days"])
def test_cache_prune_refuses_negative_limits(tmp_path, capsys, flag):
    from package_builder_dagster.cache.stores import LocalStore, default_local_dir

    workspace = _workspace(tmp_path / "ws")
    store = LocalStore(default_local_dir())
    store.put("k1", b"x" * 1000)
    assert main(["cache", "prune", "-w", str(workspace), flag, "-1"]) == 2
    assert flag in _one_line(capsys.readouterr().err)
    assert store.has("k1")


def test_unsatisfied_workspace_range_is_a_warning(tmp_path):
    workspace = _workspace(tmp_path / "ws", **{"@ex/a": "^2.0.0"})
    graph = discover(workspace)
    assert graph["@ex/b"].dependencies == ["@ex/a"]  # the edge is kept
    assert any("^2.0.0" in w and "1.0.0" in w and "@ex/a" in w for w in graph.warnings), graph.warnings
    for fine in ("workspace:*", "workspace:^", "*", "file:../a", "link:../a", "^1.0.0", "1.x || 2.x", "0.9 - 1.2", "~1.0"):
        shutil.rmtree(workspace)
        _workspace(workspace, **{"@ex/a": fine})
        assert not [w for w in discover(workspace).warnings if "@ex/a" in w], fine


def test_wrong_typed_config_key_is_refused_even_when_a_flag_sets_it(tmp_path):
    workspace = _workspace(tmp_path / "ws")
    config = tmp_path / "build-env.json"
    config.write_text(json.dumps({"maxConcurrentBuilds": "many"}))
    with pytest.raises(UsageError, match=r"maxConcurrentBuilds"):
        load_config(str(config), {("maxConcurrentBuilds",): 2}, str(workspace))


def test_atomic_writes_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "timeline.html", "<html></html>")
        write_json_atomic(tmp_path / "summary.json", {"a": 1})
        (tmp_path / "build.log").write_text("log")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"timeline.html": 0o644, "summary.json": 0o644, "build.log": 0o644}
