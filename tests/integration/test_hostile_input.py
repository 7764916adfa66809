"""Hostile names and refs: refused with exit 2 before anything is written, and refused again by every
writer that turns a name into a path, even when called directly (bypassing discovery)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import git_commit_all

from package_builder_dagster.examples import PackageSpec, generate

# ---- the CLI in a sandbox -------------------------------------------------------------------

def _snapshot(root: Path, skip: list[Path]) -> dict[str, tuple]:
    """Every path under `root` (but the tool's own folders) with its type, size, mode and mtime."""
    seen = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        st = path.lstat()
        seen[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return seen


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A sandbox with its own HOME, TMPDIR, XDG folders and DAGSTER_HOME, and a committed workspace."""
    box = tmp_path / "box"
    env = {"HOME": box / "home", "TMPDIR": box / "tmp", "XDG_CACHE_HOME": box / "xdg-cache",
           "XDG_CONFIG_HOME": box / "xdg-config", "XDG_DATA_HOME": box / "xdg-data", "XDG_STATE_HOME": box / "xdg-state",
           "DAGSTER_HOME": box / "dagster-home"}
    for key, folder in env.items():
        folder.mkdir(parents=True)
        monkeypatch.setenv(key, str(folder))
    for key in [k for k in os.environ if k.startswith("PACKAGE_BUILDER_")]:
        monkeypatch.delenv(key)
    root = generate(box / "ws", [PackageSpec("base"), PackageSpec("app", deps=["base"])], kind="trivial")
    git_commit_all(root)
    (box / "tmp" / "victim").write_text("keep me\n")
    return box, root


def test_cli_refuses_hostile_names_and_refs_and_changes_nothing_outside_its_folders(sandbox, capsys):
    from package_builder_dagster.cli.main import main

    box, root = sandbox
    own = [root / "production", box / "xdg-cache" / "package-builder", box / "dagster-home"]
    manifest = next(p for p in root.glob("packages/**/package.json") if json.loads(p.read_text())["name"].endswith("/app"))
    original = manifest.read_text()
    into_box = str(box / "tmp" / "victim")
    names = ["@x/../../../../package", f"@x/../../../../..{into_box}", "..", "-rf", ".dot", "@x/a/b",
             "ünïcode", "x" * 300, "nl\nname", into_box]
    refs = ["--output=" + into_box, "-", "--", "../../..", into_box, "HEAD\n--output=" + into_box, "ünïcode",
            "r" * 5000, "no-such-ref"]
    cases = [(["build", "-w", str(root), f"--since={ref}"], ref) for ref in refs]
    cases += [(["graph", "-w", str(root)], name) for name in names] + [(["build", "-w", str(root)], name) for name in names[:3]]
    for argv, value in cases:
        manifest.write_text(original)
        since = any(a.startswith("--since=") for a in argv)
        if not since:
            data = json.loads(original)
            data["name"] = value
            manifest.write_text(json.dumps(data))
        before = _snapshot(box, own)
        capsys.readouterr()
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, value, err)
        assert err.startswith("package-builder: ") and err.count("\n") == 1, (value, err)
        if since:
            assert "not a git ref" in err, (value, err)
        else:
            assert "package.json" in err, (value, err)  # names the file
        manifest_now = manifest.read_text()
        after = _snapshot(box, own)
        before.pop(str(manifest.relative_to(box)), None), after.pop(str(manifest.relative_to(box)), None)
        assert after == before, (value, set(after.items()) ^ set(before.items()))
        assert manifest_now == manifest.read_text()
    assert (box / "tmp" / "victim").read_text() == "keep me\n"


def _workspace_named(tmp_path, names: list[str]) -> Path:
    root = generate(tmp_path / "ws", [PackageSpec(f"p{i}") for i in range(len(names))], kind="trivial")
    for manifest in root.glob("packages/**/package.json"):
        data = json.loads(manifest.read_text())
        data["name"] = names[int(data["name"].rsplit("/p", 1)[1])]
        manifest.write_text(json.dumps(data))
    return root


def test_legacy_and_dotted_names_get_dagster_assets_and_colliding_ones_are_bad_input(tmp_path):
    from package_builder_dagster.discovery.config import load_config
    from package_builder_dagster.errors import UsageError
    from package_builder_dagster.orchestration.definitions import build_definitions

    root = _workspace_named(tmp_path / "ok", ["@s/lib.node", "@s/lib.web", "@s/Lib~old"])
    defs = build_definitions(load_config(None, {}, str(root)))
    keys = {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {("s", "lib.node"), ("s", "lib.web"), ("s", "Lib_old")} <= keys
    root = _workspace_named(tmp_path / "clash", ["@s/a-b", "@s/a.b"])
    with pytest.raises(UsageError, match="would share the Dagster output"):
        build_definitions(load_config(None, {}, str(root)))
