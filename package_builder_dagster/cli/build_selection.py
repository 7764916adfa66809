"""Which packages `build` runs: `--select`, then `--stale`, `--failed` and `--since` (with their
dependents), then the upstream packages that never built or whose outputs are missing.

`up_to_date` answers `--stale` alone before Dagster is imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from package_builder_dagster.cli.build_context import BuildContext, BuildRequest
from package_builder_dagster.cli.options import shown
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.errors import UsageError

if TYPE_CHECKING:
    import dagster as dg

UP_TO_DATE = "everything is up to date: no package to build"


def up_to_date(config: BuildConfig) -> bool:
    """The fast path of `--stale`, before Dagster is imported: True only when the mirror of the
    instance's latest materializations matches every package (code version, outputs on disk)."""
    from package_builder_dagster.discovery.workspace import discover_for
    from package_builder_dagster.orchestration.materialization_mirror import read_mirror
    from package_builder_dagster.orchestration.materialization_mirror import up_to_date as mirror_up_to_date

    mirror = read_mirror(config.dagster_home)
    return bool(mirror) and mirror_up_to_date(discover_for(config, versions_only=True), mirror)


def select_keys(request: BuildRequest, ctx: BuildContext) -> set[dg.AssetKey] | None:
    """The asset keys to materialize; None when `--stale`, `--failed` or `--since` leave nothing to
    build (said on the console). The packages wanted and why are listed."""
    from package_builder_dagster.orchestration.selection import resolve_selection

    if request.select:
        keys = resolve_selection(list(request.select), ctx.defs, ctx.graph, ctx.translator)
    else:
        keys = set(ctx.defs.resolve_asset_graph().get_all_asset_keys())
    if request.narrows:
        candidates = ctx.names(keys)
        wanted = {n: why for n, why in wanted_packages(request, ctx).items() if n in candidates}
        if not wanted:
            ctx.console.print(UP_TO_DATE)
            return None
        for name in ctx.graph.packages:
            if name in wanted:
                ctx.console.print(f"  {name}: {wanted[name]}")
        keys = {ctx.key(n) for n in wanted}
    if request.select or request.narrows:
        keys |= _upstream_to_add(ctx, ctx.names(keys))
    return keys


def wanted_packages(request: BuildRequest, ctx: BuildContext) -> dict[str, str]:
    """The packages `--stale`, `--failed` and `--since` want, each with the reason."""
    from package_builder_dagster.discovery.code_versions import changed_packages
    from package_builder_dagster.orchestration.staleness import failed_in_latest_run, stale_packages, with_downstream

    wanted: dict[str, str] = {}
    if request.stale:
        wanted.update(stale_packages(ctx.instance, ctx.graph, ctx.translator, ctx.config.reports_dir))
    if request.failed:
        wanted.update({n: "failed or blocked in the latest run" for n in failed_in_latest_run(ctx.config.reports_dir)})
    if request.since:
        try:
            changed = changed_packages(ctx.graph, request.since)
        except ValueError as exc:
            raise UsageError(f"--since {shown(request.since)}: {exc}") from None
        wanted.update(with_downstream(ctx.graph, {n: f"changed since {request.since}" for n in changed}))
    return wanted


def _upstream_to_add(ctx: BuildContext, chosen: set[str]) -> set[dg.AssetKey]:
    """The upstream packages of `chosen` that must run too: never built successfully, or their
    outputs missing (a fresh checkout: they come back from the cache, or a rebuild). Said on the console."""
    from package_builder_dagster.orchestration.staleness import missing_outputs_of

    upstream = ctx.graph.upstream(chosen) - chosen
    missing = sorted(n for n in upstream if ctx.instance.get_latest_materialization_event(ctx.key(n)) is None)
    if missing:
        ctx.console.print(f"added {len(missing)} upstream package(s) never built successfully: {', '.join(missing)}")
    absent = missing_outputs_of(ctx.instance, ctx.graph, ctx.translator, upstream - set(missing))
    if absent:
        ctx.console.print(f"added {len(absent)} upstream package(s) whose outputs are missing: {', '.join(sorted(absent))}")
    return {ctx.key(n) for n in [*missing, *absent]}
