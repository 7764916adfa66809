"""`package-builder worker`: a celery worker for a distributed build (docs/scale-out.md)."""

from __future__ import annotations

import click

from package_builder_dagster.errors import UsageError


@click.command("worker", help="a celery worker for a distributed build (docs/scale-out.md)")
@click.option("--config", "-c", required=True, metavar="FILE", help="build-env.json with dagster.executor and dagster.storage")
@click.option("--concurrency", type=int, default=1, metavar="N", help="packages at a time on this worker (default 1)")
@click.option("--checkout", metavar="DIR", help="this worker's own clone of the repository (replaces workspaceRoot)")
@click.option("--name", metavar="NAME", help="the worker's celery name (default pb-<pid>)")
def worker_command(config: str, concurrency: int, checkout: str | None, name: str | None) -> int:
    try:
        from package_builder_dagster.distributed.worker import run_worker
    except ImportError as exc:
        raise UsageError(f"`worker` needs the distributed extra ({exc.name} is missing): "
                         "pip install 'package-builder-dagster[distributed]'") from None
    return run_worker(config, concurrency, checkout, name)
