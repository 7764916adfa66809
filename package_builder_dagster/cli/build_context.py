"""What the steps of one `build` share: the flags that choose the packages, and the workspace once read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from package_builder_dagster.discovery.config import BuildConfig

if TYPE_CHECKING:
    import dagster as dg
    from rich.console import Console

    from package_builder_dagster.discovery.graph import WorkspaceGraph
    from package_builder_dagster.orchestration.translator import PackageTranslator


@dataclass(frozen=True)
class BuildRequest:
    """`--select` (repeatable), `--stale`, `--failed` and `--since REF`."""

    select: tuple[str, ...] = ()
    stale: bool = False
    failed: bool = False
    since: str | None = None

    @property
    def narrows(self) -> bool:
        """Whether only some packages are wanted: stale, failed, or changed since a ref."""
        return bool(self.stale or self.failed or self.since)

    @property
    def stale_only(self) -> bool:
        """`--stale` alone: the case the up-to-date fast path answers before Dagster is imported."""
        return self.stale and not (self.failed or self.since or self.select)


@dataclass
class BuildContext:
    """The workspace as `build` sees it once read and locked: config, graph, definitions, instance."""

    config: BuildConfig
    console: Console
    graph: WorkspaceGraph
    translator: PackageTranslator
    defs: dg.Definitions
    package_manager: Any
    instance: dg.DagsterInstance

    def key(self, name: str) -> dg.AssetKey:
        """The asset key of the package `name`."""
        return self.translator.get_asset_key(self.graph[name])

    def names(self, keys: set[dg.AssetKey]) -> set[str]:
        """The packages among asset `keys` (the suite assets are not packages)."""
        by_key = {self.translator.get_asset_key(p): p.name for p in self.graph}
        return {by_key[k] for k in keys if k in by_key}
