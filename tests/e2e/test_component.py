"""PackageBuilderComponent: a Dagster project made with `create-dagster`, the component added with
`dg scaffold defs`, checked, listed and launched with the real `dg` CLI (no PACKAGE_BUILDER_*
variable anywhere); and the component's config resolution in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from unit.test_component import _workspace

BIN = Path(sys.executable).parent  # the venv's bin: dg and create-dagster come with the `test` extra
TYPE = "package_builder_dagster.PackageBuilderComponent"


def _dg_env(tmp: Path, project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    home = tmp / "dagster-home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env.update({
        "VIRTUAL_ENV": str(BIN.parent),  # dg uses this venv (no uv, no project venv)
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(project / "src"),  # the project importable without installing it
        "DAGSTER_HOME": str(home),
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",  # no PyPI look-ups
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    })
    return env


class _Dg:
    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env, self.timings = cwd, env, []

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd or self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
        self.timings.append((" ".join(args), round(time.monotonic() - started, 1)))
        assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        return proc

    def asset_keys(self) -> dict[str, dict]:
        out = self("dg", "list", "defs", "--json").stdout
        return {a["asset_key"]: a for a in json.loads(out[out.index("{"):])["assets"]}


def test_component_in_a_dg_project(tmp_path):
    root = _workspace(tmp_path)
    project = tmp_path / "proj"
    dg = _Dg(tmp_path, _dg_env(tmp_path, project))

    dg("create-dagster", "project", "proj", "--no-uv-sync")
    dg.cwd = project
    components = dg("dg", "list", "components", "--json").stdout
    assert TYPE in components  # the dagster_dg_cli.registry_modules entry point
    dg("dg", "scaffold", "defs", TYPE, "monorepo", "--workspace", str(root))
    defs_yaml = project / "src" / "proj" / "defs" / "monorepo" / "defs.yaml"
    assert f"workspace: {root}" in defs_yaml.read_text()

    # Hand-written, the least there can be: the type and the workspace (relative to this folder).
    defs_yaml.write_text(f"type: {TYPE}\nattributes:\n  workspace: {os.path.relpath(root, defs_yaml.parent)}\n")
    dg("dg", "check", "defs")
    assets = dg.asset_keys()
    assert {"ex/core-a", "ex/util-b", "suite_verification", "suite_summary"} <= set(assets)
    assert assets["ex/util-b"]["dependency_keys"] == ["ex/core-a"] and assets["ex/core-a"]["group_name"] == "core"

    launched = dg("dg", "launch", "--assets", "ex/core-a,ex/util-b")
    assert "RUN_SUCCESS" in launched.stdout + launched.stderr
    assert (root / "packages" / "core" / "core-a" / "dist" / "index.js").is_file()
    assert (root / "packages" / "utilities" / "util-b" / "dist" / "index.js").is_file()

    # The config inline, one asset per package, and a translation.
    defs_yaml.write_text(f"""type: {TYPE}
attributes:
  workspace: "{{{{ env.MONOREPO }}}}"
  grouping: per-package
  config:
    maxConcurrentBuilds: 2
    testing: {{minCoveragePercent: 50}}
  translation:
    key_prefix: mono/repo
    group_name: js_packages
    tags: {{team: web}}
""")
    dg.env["MONOREPO"] = str(root)
    assets = dg.asset_keys()
    assert {"mono/repo/ex/core-a", "mono/repo/ex/util-b"} <= set(assets) and "ex/core-a" not in assets
    util = assets["mono/repo/ex/util-b"]
    assert util["dependency_keys"] == ["mono/repo/ex/core-a"] and util["group_name"] == "js_packages"
    assert {"key": "team", "value": "web"} in util["tags"]
    print("\n" + "\n".join(f"{seconds:5.1f}s  {command}" for command, seconds in dg.timings))
