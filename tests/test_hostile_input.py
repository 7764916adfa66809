"""Hostile names and refs: refused with exit 2 before anything is written, and refused again by every
writer that turns a name into a path, even when called directly (bypassing discovery)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git_commit_all

from package_builder_dagster.discovery.package_names import InvalidPackageName, check_package_name, package_path
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.paths import UnsafePath, inside
from package_builder_dagster.reporting.reports import package_report_path, write_run_reports

HOSTILE_NAMES = [
    "@x/../../../../package", "@x/../../../../../../../tmp/evil", "..", "../up", "@x/a/b", "@x/..", "@../x",
    ".hidden", "-rf", "@x/-rf", "_under", "@x/.git", "a b", " lead", "név-ünicode", "tab\tname", "nl\nname",
    "back\\slash", "x" * 215, "", "node_modules", "@/x", "@x/",
]
LEGACY_NAMES = ["CapitalLetters", "@Scope/Name", "tilde~name"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_npm_or_the_tool_refuses_are_refused(name):
    with pytest.raises(InvalidPackageName):
        check_package_name(name)


@pytest.mark.parametrize("name", LEGACY_NAMES)
def test_legacy_valid_names_are_accepted_with_a_warning(name):
    assert check_package_name(name)


def test_valid_names_map_to_distinct_files_inside_the_folder(tmp_path):
    names = ["@s/lib.node", "@s/lib.web", "@s/lib", "lib", "lib.node", "@a__b/c", "@a/b__c", "@s/lib.node.json"]
    paths = [package_path(tmp_path, n, ".json") for n in names]
    assert len(set(paths)) == len(names)
    assert package_path(tmp_path, "@s/lib.node", ".json") == tmp_path / "@s" / "lib.node.json"
    assert all(p.resolve().is_relative_to(tmp_path.resolve()) for p in paths)


@pytest.mark.parametrize("name", ["@x/../../../../package", "../evil", "@x/../../tmp/evil", "/abs/evil", "-rf"])
def test_writers_refuse_a_hostile_name_that_bypassed_discovery(tmp_path, name):
    reports = tmp_path / "reports"
    with pytest.raises((InvalidPackageName, UnsafePath)):
        package_report_path(reports, None, "run-1", name)
    with pytest.raises((InvalidPackageName, UnsafePath)):
        package_path(tmp_path / "logs" / "run-1", name)
    summary = {"runId": "run-1", "timestamp": "2026-11-27T00:00:00+00:00", "packageReports": []}
    with pytest.raises((InvalidPackageName, UnsafePath)):
        write_run_reports(reports, [{"packageName": "ok"}, {"packageName": name}], summary, "<html/>")
    assert not reports.exists() or not any(reports.rglob("*")), "nothing is written when one path is refused"


@pytest.mark.parametrize("run_id", ["../../escape", "..", "/abs", "a/b", ""])
def test_a_run_folder_never_leaves_the_reports_folder(tmp_path, run_id):
    with pytest.raises(UnsafePath):
        package_report_path(tmp_path, None, run_id, "ok")


def test_a_package_named_like_the_summary_cannot_overwrite_it(tmp_path):
    summary = {"runId": "r", "timestamp": "2026-11-27T00:00:00+00:00", "packageReports": []}
    with pytest.raises(UnsafePath):
        write_run_reports(tmp_path, [{"packageName": "suite-summary"}], summary)


def test_inside_follows_symlinks(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        inside(tmp_path / "folder", "link", "escaped.json")
    assert inside(tmp_path / "folder", "@s", "a.json") == tmp_path / "folder" / "@s" / "a.json"


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


def test_build_with_a_traversing_package_name_exits_2_and_keeps_the_root_manifest(sandbox):
    box, root = sandbox
    manifest = next(p for p in root.glob("packages/**/package.json") if json.loads(p.read_text())["name"].endswith("/app"))
    data = json.loads(manifest.read_text())
    data["name"] = "@x/../../../../package"
    manifest.write_text(json.dumps(data))
    root_manifest = (root / "package.json").read_text()
    proc = subprocess.run([sys.executable, "-m", "package_builder_dagster.cli", "build", "-w", str(root)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a valid npm name" in proc.stderr and "package.json" in proc.stderr
    assert (root / "package.json").read_text() == root_manifest
    assert not (root / "production" / "reports").exists()


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


def test_the_local_registry_s_token_never_reaches_a_repr(tmp_path):
    from package_builder_dagster.local_registry import LocalRegistry

    registry = LocalRegistry("http://127.0.0.1:1/", "npm_SECRET_TOKEN", None, tmp_path / "log")  # type: ignore[arg-type]
    assert "SECRET" not in repr(registry)
