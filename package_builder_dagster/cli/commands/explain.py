"""`package-builder explain PKG`: a package's cache key, its inputs, and which changed since its last build."""

from __future__ import annotations

import json
from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, json_option, workspace_options
from package_builder_dagster.errors import UsageError


@click.command("explain", help="a package's cache key: its inputs and which changed since its last build\n\n"
                                "PACKAGE: package name (full or short)")
@click.argument("package")
@workspace_options()
@json_option
def explain_command(package: str, as_json: bool, **flags: Any) -> int:
    from package_builder_dagster.orchestration.definitions import discover_for

    config = ConfigFlags(**flags).load()
    graph = discover_for(config)
    matches = [p for p in graph if package in (p.name, p.short_name)]
    if len(matches) != 1:
        raise UsageError(f"package {package!r} " + ("is ambiguous" if matches else f"not found among {len(graph)} packages"))
    result = explanation(matches[0], config)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_explanation(matches[0], result)
    return 0


def explanation(pkg: Any, config: Any) -> dict[str, Any]:
    """What `--json` prints: the key, its inputs, the last build's key and what changed since."""
    from package_builder_dagster.discovery.cache_keys import explain_changes
    from package_builder_dagster.orchestration.instance import get_instance
    from package_builder_dagster.orchestration.staleness import outputs_problem
    from package_builder_dagster.orchestration.translator import PackageTranslator

    event = get_instance(config).get_latest_materialization_event(PackageTranslator().get_asset_key(pkg))
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    recorded = getattr(meta.get("cache_inputs"), "value", None)
    last_key = getattr(meta.get("cache_key"), "value", None)
    return {
        "package": pkg.name, "cacheKey": pkg.cache_key, "inputs": pkg.cache_inputs,
        "lastBuild": {"cacheKey": last_key, "cacheHit": getattr(meta.get("cache_hit"), "value", None)} if event else None,
        "changed": explain_changes(recorded, pkg.cache_inputs) if isinstance(recorded, dict) else None,
        "outputs": outputs_problem(pkg, meta) if event else None,
    }


def print_explanation(pkg: Any, result: dict[str, Any]) -> None:
    """The explanation for a person: each input, then what changed since the last materialization."""
    print(f"{pkg.name}: cache key {pkg.cache_key}")
    for name, value in pkg.cache_inputs.items():
        print(f"  {name:<28} {value[:32]}")
    last_key = (result["lastBuild"] or {}).get("cacheKey")
    if result["lastBuild"] is None:
        print("never materialized: nothing to compare with")
    elif result["changed"] is None:
        print("its last materialization recorded no cache inputs (built before the cache, or with --cache off)")
    elif not result["changed"]:
        print(f"unchanged since its last materialization (key {last_key})")
    else:
        print(f"changed since its last materialization (key {last_key}):")
        for line in result["changed"]:
            print(f"  {line}")
    if result["outputs"]:
        print(f"outputs: {result['outputs']}")
