"""Hostile names and refs: refused with exit 2 before anything is written, and refused again by every
writer that turns a name into a path, even when called directly (bypassing discovery)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from integration.test_hostile_input import sandbox  # noqa: F401 -- sandbox: a fixture

# ---- the CLI in a sandbox -------------------------------------------------------------------


def test_build_with_a_traversing_package_name_exits_2_and_keeps_the_root_manifest(sandbox):  # noqa: F811 -- the fixture
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
