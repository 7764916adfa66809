"""The scale-out (docs/scale-out.md): config, the run's commit, priorities, and real runs on the
celery executor with real redis-server, PostgreSQL, the artifact store's server and
`package-builder worker` processes, each in its own clone."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distributed_cluster import git, make_origin  # noqa: E402
from servers import ServerUnavailable  # noqa: E402

from package_builder_dagster.discovery.config import BuildConfig  # noqa: E402
from package_builder_dagster.errors import UsageError  # noqa: E402
from package_builder_dagster.examples import layered_specs  # noqa: E402

BROKER = {"broker": "redis://127.0.0.1:6379/0"}


# ---- without servers ----------------------------------------------------------------------------


def test_dirty_tree_refused_naming_files_untracked_only_warns(tmp_path):
    from package_builder_dagster.distributed.source_tree import COMMIT_TAG, run_tags

    origin = make_origin(tmp_path / "ws", layered_specs(3))
    config = BuildConfig.model_validate({"workspaceRoot": str(origin), "dagster": {"executor": BROKER}})
    warnings: list[str] = []
    (origin / "notes.txt").write_text("untracked\n")
    assert run_tags(config, warnings.append) == {COMMIT_TAG: git(origin, "rev-parse", "HEAD")}
    assert "notes.txt" in warnings[0]
    manifest = next(origin.glob("packages/*/*/package.json"))
    manifest.write_text(manifest.read_text() + "\n")
    with pytest.raises(UsageError, match=re.escape(str(manifest.relative_to(origin)))):
        run_tags(config)
    git(origin, "add", str(manifest))  # staged counts too
    with pytest.raises(UsageError, match="modified or staged"):
        run_tags(config)
    assert run_tags(BuildConfig.model_validate({"workspaceRoot": str(origin)})) == {}  # not distributed: no check


# ---- real runs ------------------------------------------------------------------------------------


def test_redis_serves_the_highest_dagster_priority_first(tmp_path):
    """The ranked priorities and the transport settings on a real Redis: queued tasks are served
    highest Dagster priority first (Redis itself serves the lowest number first)."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker
    from servers import RedisServer

    from package_builder_dagster.distributed.celery_settings import app_settings
    from package_builder_dagster.distributed.executor import redis_priorities

    try:
        redis = RedisServer()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    with redis:
        config = BuildConfig.model_validate({"dagster": {"executor": {"broker": redis.url}}})
        app = Celery("priority-test")
        app.conf.update(app_settings(config), task_default_queue="dagster")
        served: list[str] = []

        @app.task(name="record")
        def record(name: str) -> None:
            served.append(name)

        dagster_priority = {"leaf": 0, "middle": 10, "critical": 50, "leaf2": 0, "middle2": 10}
        for step, level in redis_priorities(dagster_priority).items():  # queued before any worker runs
            record.apply_async((step,), priority=level, queue="dagster")
        with start_worker(app, concurrency=1, pool="solo", perform_ping_check=False, queues=["dagster"]):
            deadline = time.monotonic() + 30
            while len(served) < len(dagster_priority) and time.monotonic() < deadline:
                time.sleep(0.1)
    assert served[0] == "critical" and set(served[1:3]) == {"middle", "middle2"} and set(served[3:]) == {"leaf", "leaf2"}, served
