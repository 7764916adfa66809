"""The celery settings of a workspace's scale-out, built from `dagster.executor`: one dict for the
orchestrator (the executor's `config_source`) and for every worker, so the two never disagree.

The defaults make a lost worker harmless (see docs/scale-out.md):
- `task_acks_late` + `task_reject_on_worker_lost`: a task is acknowledged only when it finished, so a
  killed worker's package goes back to the queue and another worker runs it;
- Redis redelivers a message nobody acknowledged after `visibility_timeout`: it must be longer than
  the longest package (install included), or a healthy package runs twice; `task_time_limit` kills
  a task just before that, so no package outlives it;
- Dagster's own `broker_transport_options` are repeated, because a new dict replaces them;
- `unacked_restore_interval`: how often a worker looks for messages whose worker died (kombu's
  default is ~100 s);
- ten Redis priority levels (`priority_steps`), one task per worker slot at a time (prefetch 1).
"""

from __future__ import annotations

import os
from typing import Any

from package_builder_dagster.discovery.config import BuildConfig, ExecutorConfig
from package_builder_dagster.errors import UsageError

# dagster_celery/defaults.py: replaced, not merged, when broker_transport_options is given
DAGSTER_TRANSPORT_DEFAULTS: dict[str, Any] = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
QUEUE = "dagster"  # dagster-celery's queue


def executor_settings(config: BuildConfig) -> ExecutorConfig:
    """The config's `dagster.executor`, or a UsageError when there is none."""
    if config.dagster.executor is None:
        raise UsageError("no dagster.executor in the config: this workspace does not scale out")
    return config.dagster.executor


def _url(value: str | None, env: str | None, what: str) -> str | None:
    if env is None:
        return value
    url = os.environ.get(env)
    if not url:
        raise UsageError(f"dagster.executor.{what}Env names ${env}, which is not set")
    return url


def broker_url(config: BuildConfig) -> str:
    """The broker URL, read from its variable when the config names one (never logged)."""
    settings = executor_settings(config)
    url = _url(settings.broker, settings.brokerEnv, "broker")
    assert url is not None  # the config model requires one of the two
    return url


def backend_url(config: BuildConfig) -> str:
    """The result backend URL; the broker when none is given."""
    settings = executor_settings(config)
    return _url(settings.backend, settings.backendEnv, "backend") or broker_url(config)


def config_source(config: BuildConfig) -> dict[str, Any]:
    """Celery settings: the safe defaults, then the config's `config_source` over them (its
    `broker_transport_options` merged key by key over ours)."""
    settings = executor_settings(config)
    visibility = settings.visibilityTimeoutSeconds
    transport = {
        **DAGSTER_TRANSPORT_DEFAULTS,
        "visibility_timeout": visibility,
        "unacked_restore_interval": 2,
        "unacked_restore_throttle": 1,
        "priority_steps": list(range(10)),
    }
    own = dict(settings.config_source)
    transport.update(own.pop("broker_transport_options", None) or {})
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "task_time_limit": max(1, int(transport["visibility_timeout"]) - max(2, int(transport["visibility_timeout"]) // 20)),
        **own,
        "broker_transport_options": transport,
    }


def app_settings(config: BuildConfig) -> dict[str, Any]:
    """Everything a celery app of this workspace needs: broker, backend and config_source."""
    return {"broker_url": broker_url(config), "result_backend": backend_url(config), **config_source(config)}
