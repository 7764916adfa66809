"""Hostile names and refs: refused with exit 2 before anything is written, and refused again by every
writer that turns a name into a path, even when called directly (bypassing discovery)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import git_commit_all

from package_builder_dagster.examples import PackageSpec, generate

HOSTILE_NAMES = [
    "@x/../../../../package", "@x/../../../../../../../tmp/evil", "..", "../up", "@x/a/b", "@x/..", "@../x",
    ".hidden", "-rf", "@x/-rf", "_under", "@x/.git", "a b", " lead", "név-ünicode", "tab\tname", "nl\nname",
    "back\\slash", "x" * 215, "", "node_modules", "@/x", "@x/",
]
LEGACY_NAMES = ["CapitalLetters", "@Scope/Name", "tilde~name"]


# ---- the CLI in a sandbox -------------------------------------------------------------------


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
