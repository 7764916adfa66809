"""Cache keys: what a package's build, tests and checks depend on, as one digest.

A key covers the package's sources, plan, lockfile entries and settings (its code version's parts),
the keys of its workspace dependencies (so a change upstream invalidates it), the Node and package
manager versions, and the values of the environment variables `cache.env` lists (only their hashes
are kept). `explain` compares two sets of inputs. No Dagster here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path

from package_builder_dagster.discovery.code_versions import source_hash, workspace_files
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.discovery.package_managers import PackageManager, installed_version
from package_builder_dagster.discovery.turbo.inputs import WorkspaceListing, env_names, package_env_patterns, turbo_parts
from package_builder_dagster.discovery.turbo.model import WorkspaceTurbo

KEY_VERSION = "1"  # bump when the artifact layout or the key's recipe changes


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def node_version(node: str = "node") -> str:
    """`node --version` (once per process)."""
    try:
        return subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


@functools.lru_cache(maxsize=8)
def package_manager_version(pm: PackageManager) -> str:
    """The package manager's version, from its own package.json (no process), else its release file's digest."""
    version = installed_version(pm.argv[-1])
    if version:
        return f"{pm.kind}@{version}"
    try:  # a checked-in yarn release (yarnPath), or a binary: its content says which
        return f"{pm.kind}@sha256:{hashlib.sha256(Path(pm.argv[-1]).resolve().read_bytes()).hexdigest()[:16]}"
    except OSError:
        return pm.kind


def env_digests(names: list[str]) -> dict[str, str]:
    """`env:NAME` → a hash of the variable's value ("unset" when it is not set); never the value."""
    return {f"env:{n}": (_sha(f"{n}={os.environ[n]}")[:16] if n in os.environ else "unset") for n in sorted(names)}


def assign_cache_keys(graph: WorkspaceGraph, config: BuildConfig, pm: PackageManager | None) -> None:
    """Set each package's `cache_inputs` and `cache_key`, dependencies first. With turbo.json, each
    task's `inputs` stand for the package's sources, and turbo's env and global files are added."""
    toolchain = {"node": node_version(), "packageManager": package_manager_version(pm) if pm else "unknown"}
    env = env_digests(config.cache.env)
    listing = WorkspaceListing(graph.root, workspace_files(graph.root)) if graph.turbo is not None else None
    for pkg in graph:  # dependency order
        inputs = {"recipe": KEY_VERSION, **pkg.version_parts, **toolchain, **env}
        if graph.turbo is not None and pkg.turbo is not None and listing is not None:
            if turbo_stands_for_sources(pkg, listing):
                del inputs["sources"]
            inputs.update(env_digests(env_names(package_env_patterns(pkg.turbo, graph.turbo), os.environ)))
            inputs.update(turbo_parts(pkg.path, pkg.turbo, graph.turbo, listing))
        for dep in pkg.dependencies:
            if dep in graph.packages and graph[dep].cache_key:
                inputs[f"dep:{dep}"] = graph[dep].cache_key
        pkg.cache_inputs = inputs
        pkg.cache_key = _sha(json.dumps(inputs, sort_keys=True))[:32]


def turbo_stands_for_sources(pkg: Package, listing: WorkspaceListing) -> bool:
    """Whether the package's turbo tasks' inputs replace its sources in the key: only when every script it
    runs is a turbo task (a phase turbo.json leaves undefined still runs the package's own scripts) and git
    lists the workspace's files (outside git, inputs beyond the package could not be found)."""
    return listing.git and bool(pkg.turbo and pkg.turbo.tasks) and not (pkg.turbo and any(pkg.turbo.undefined.values()))


def rekey(pkg: Package) -> tuple[str, dict[str, str]]:
    """(key, inputs) of `pkg` with its sources hashed again (after a fix agent edited them); with
    turbo.json, its tasks' inputs (a fix edits the package's files, not the global ones)."""
    inputs = dict(pkg.cache_inputs)
    if pkg.turbo is not None:
        root = pkg.dir.parents[len(Path(pkg.path).parts) - 1]
        inputs.update(turbo_parts(pkg.path, pkg.turbo, WorkspaceTurbo(""), WorkspaceListing(root, workspace_files(root)), False))
    if "sources" in inputs or pkg.turbo is None:
        inputs["sources"] = source_hash(pkg, workspace_files(pkg.dir))
    return _sha(json.dumps(inputs, sort_keys=True))[:32], inputs


def explain_changes(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """Which inputs differ between a recorded key and the current one, one line each."""
    lines = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{name}: added ({new[:16]})")
        elif new is None:
            lines.append(f"{name}: removed (was {old[:16]})")
        else:
            lines.append(f"{name}: {old[:16]} → {new[:16]}")
    return lines
