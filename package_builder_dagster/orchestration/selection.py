"""`--select`: Dagster's asset selection syntax, with npm package names allowed where keys go.

`@scope/name` selects that package, `+@scope/name` adds its upstream, `@scope/name+` its downstream;
anything else of Dagster's syntax (`group:core`, `tag:...`, `and`, `or`, `not`) works as in Dagster.
"""

from __future__ import annotations

import re
import warnings

import dagster as dg

from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.errors import UsageError
from package_builder_dagster.orchestration.translator import PackageTranslator

_TOKEN = re.compile(r'(?<![\w:"/@.-])(@[\w.-]+/[\w.-]+|[A-Za-z0-9][\w.-]*)(?![\w"/:-])')


def to_dagster_syntax(text: str, graph: WorkspaceGraph, translator: PackageTranslator) -> str:
    """Replace each package name in `text` by `key:"<asset key>"`."""

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in graph.packages:
            return f'key:"{translator.get_asset_key(graph[name]).to_user_string()}"'
        if name.startswith("@"):
            raise UsageError(f"--select: no package named {name} in the workspace")
        return name

    return _TOKEN.sub(replace, text)


def resolve_selection(
    selects: list[str], defs: dg.Definitions, graph: WorkspaceGraph, translator: PackageTranslator
) -> set[dg.AssetKey]:
    """The asset keys that the union of `selects` names."""
    asset_graph = defs.resolve_asset_graph()
    keys: set[dg.AssetKey] = set()
    for text in selects:
        syntax = to_dagster_syntax(text.strip(), graph, translator)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keys |= set(dg.AssetSelection.from_string(syntax).resolve(asset_graph))
        except UsageError:
            raise
        except Exception as exc:  # Dagster's parser errors are long; keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"--select {text!r}: {first}") from None
    return keys
