"""`package-builder cache stats|prune`: the local artifact store."""

from __future__ import annotations

from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, workspace_options


@click.command("cache", help="the local artifact store: stats, prune")
@click.argument("action", type=click.Choice(["stats", "prune"]))
@workspace_options(plan=False)
@click.option("--max-size-mb", type=int, metavar="N", help="prune: evict least recently used artifacts beyond this size")
@click.option("--older-than-days", type=float, metavar="D", help="prune: remove artifacts not used for this many days")
def cache_command(action: str, max_size_mb: int | None, older_than_days: float | None, **flags: Any) -> int:
    from package_builder_dagster.cache.stores import LocalStore, default_local_dir
    from package_builder_dagster.cli.input_checks import check_prune_limits
    from package_builder_dagster.execution.publishing import display_url

    check_prune_limits(max_size_mb, older_than_days)
    config = ConfigFlags(**flags).load()
    store = LocalStore(config.cache.local.dir or default_local_dir(), config.cache.local.maxSizeMB)
    if action == "prune":
        removed = store.prune(max_size_mb, older_than_days)
        print(f"removed {removed.get('removed', 0)} artifact(s), {removed.get('bytes', 0) / 1e6:.1f} MB")
    stats = store.stats()
    print(f"local store {stats['directory']}: {stats['entries']} artifact(s), {stats['bytes'] / 1e6:.1f} MB "
          f"of {stats['max_bytes'] / 1e6:.0f} MB")
    remote = config.cache.remote
    if remote.url:
        print(f"remote store {display_url(remote.url)} (team {remote.team or '-'}, token from ${remote.tokenEnv}"
              f"{', read-only' if remote.readOnly else ''})")
    return 0
