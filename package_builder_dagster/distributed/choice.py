"""Which executor a config asks for, without importing celery unless it asks for it."""

from __future__ import annotations

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.errors import UsageError


def executor_for(config: BuildConfig) -> dg.ExecutorDefinition | None:
    """The executor of `dagster.executor`; None without one (the default executors stay)."""
    if config.dagster.executor is None:
        return None
    try:
        from package_builder_dagster.distributed.executor import celery_executor_for
    except ImportError as exc:
        raise UsageError(f"dagster.executor needs the distributed extra ({exc.name} is missing): "
                         "pip install 'package-builder-dagster[distributed]'") from None
    return celery_executor_for(config)
