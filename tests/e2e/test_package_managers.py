"""The same build on npm, pnpm and yarn berry workspaces, each installed by its real package manager."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import tool_path

from package_builder_dagster.examples import PackageSpec, generate

SPECS = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]), PackageSpec("svc-c", "service", ["util-b", "core-a"])]


@pytest.mark.parametrize(
    "manager, install, expected",
    [
        ("npm", ["npm", "install", "--no-audit", "--no-fund", "--offline"], "npm"),
        ("pnpm", ["pnpm", "install", "--offline"], "pnpm"),
        ("yarn-berry", ["node", ".yarn/releases/yarn-4.cjs", "install"], "yarn-berry"),
    ],
)
def test_build_on_each_package_manager(tmp_path, cli, toolchain, manager, install, expected):
    root = generate(tmp_path / "ws", [PackageSpec(s.short, s.category, list(s.deps)) for s in SPECS],
                    kind="trivial", package_manager=manager, toolchain=toolchain)
    env = {**os.environ, "PATH": tool_path(toolchain), "YARN_ENABLE_TELEMETRY": "0", "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"}
    install = [shutil.which(install[0], path=env["PATH"]), *install[1:]]
    subprocess.run(install, cwd=root, env=env, check=True, capture_output=True, timeout=300)
    res = cli("build", "--workspace", str(root), env={"PATH": tool_path(toolchain)})
    assert res.code == 0, res.output
    assert f"· {expected} ·" in res.stdout and "3 succeeded" in res.stdout
    assert (root / "packages" / "services" / "svc-c" / "dist" / "index.js").is_file()
