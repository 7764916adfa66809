"""A plain-JSON mirror of what the Dagster instance records per package: the code version and the
outputs (files and digest) of its latest materialization, and its status in the latest run that
selected it. It is rewritten from the instance after every run, so `build --stale` can say
"everything is up to date" without importing Dagster; anything less than a full match falls back
to asking Dagster. No Dagster here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from package_builder_dagster.cache.digest import outputs_digest
from package_builder_dagster.cache.outputs import missing_outputs
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.files import write_json_atomic

FORMAT = 1


def mirror_path(dagster_home: Path) -> Path:
    return dagster_home / "package-builder" / "materialized.json"


def read_mirror(dagster_home: Path) -> dict[str, dict[str, Any]]:
    """package name → {codeVersion, outputs, outputsDigest, status}; empty when there is none."""
    try:
        data = json.loads(mirror_path(dagster_home).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    return data.get("packages") or {}


def write_mirror(dagster_home: Path, packages: dict[str, dict[str, Any]]) -> None:
    write_json_atomic(mirror_path(dagster_home), {"format": FORMAT, "packages": packages})


def up_to_date(graph: WorkspaceGraph, mirror: dict[str, dict[str, Any]]) -> bool:
    """True only when every package's latest materialization has its current code version, its
    recorded outputs are all on disk with the recorded digest, and it did not fail last time."""
    for pkg in graph:
        entry = mirror.get(pkg.name)
        if not entry or entry.get("codeVersion") != pkg.code_version or entry.get("status") in ("failed", "blocked"):
            return False
        files, digest = entry.get("outputs"), entry.get("outputsDigest")
        if digest is None or not isinstance(files, list) or entry.get("outputsCount") != len(files):
            return False
        if missing_outputs(pkg.dir, files) or outputs_digest(pkg.dir, files) != digest:
            return False
    return True


def refresh_mirror(instance: Any, graph: WorkspaceGraph, translator: Any, statuses: dict[str, str]) -> None:
    """Rewrite the plain-JSON mirror of each package's latest materialization (for `build --stale`)."""
    home = Path(instance.root_directory)
    previous = read_mirror(home)
    keys = {translator.get_asset_key(p): p.name for p in graph}
    packages = {}
    for key, entry in instance.get_latest_materialization_events(list(keys)).items():
        mat = entry.asset_materialization if entry else None
        if mat is None:
            continue
        name = keys[key]
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        packages[name] = {
            "codeVersion": (mat.tags or {}).get("dagster/code_version"),
            "outputs": meta.get("outputs"), "outputsDigest": meta.get("outputs_digest"), "outputsCount": meta.get("outputs_count"),
            "status": statuses.get(name) or (previous.get(name) or {}).get("status"),
        }
    for name, status in statuses.items():  # failed before it ever materialized
        packages.setdefault(name, {"status": status})
    write_mirror(home, packages)
