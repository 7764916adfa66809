"""`package-builder graph`: the packages in dependency order."""

from __future__ import annotations

import json
from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, json_option, workspace_options


@click.command("graph", help="print the packages in dependency order")
@workspace_options()
@json_option
def graph_command(as_json: bool, **flags: Any) -> int:
    from package_builder_dagster.orchestration.definitions import discover_for

    graph = discover_for(ConfigFlags(**flags).load())
    if as_json:
        print(json.dumps(graph.to_json(), indent=2))
    else:
        print_graph(graph)
    return 0


def print_graph(graph: Any) -> None:
    """The graph as a table, then its warnings."""
    from package_builder_dagster.cli.output import make_console, make_table

    table = make_table(f"{len(graph)} packages in dependency order ({graph.root})",
                       "#", "package", "version", "category", "layer", "path", "depends on")
    for i, pkg in enumerate(graph, 1):
        table.add_row(str(i), pkg.name, pkg.version, pkg.category or "-", str(pkg.layer), pkg.path, ", ".join(pkg.dependencies))
    console = make_console()
    console.print(table)
    for w in graph.warnings:
        console.print(f"[yellow]warning:[/] {w}")
