"""The scale-out (docs/scale-out.md): config, the run's commit, priorities, and real runs on the
celery executor with real redis-server, PostgreSQL, the artifact store's server and
`package-builder worker` processes, each in its own clone."""

from __future__ import annotations

import pytest

from package_builder_dagster.discovery.config import BuildConfig

BROKER = {"broker": "redis://127.0.0.1:6379/0"}


# ---- without servers ----------------------------------------------------------------------------

def test_without_executor_nothing_changes():
    from package_builder_dagster.distributed.choice import executor_for
    from package_builder_dagster.orchestration.instance import dagster_yaml, sqlite_yaml

    config = BuildConfig(workspaceRoot="/srv/ws")
    assert config.dagster.executor is None and config.dagster.grouping == "all"
    assert executor_for(config) is None
    assert dagster_yaml(config) == sqlite_yaml(config.dagster_home)


def test_config_checks_and_postgres_yaml_names_the_variable():
    from package_builder_dagster.orchestration.instance import dagster_yaml

    config = BuildConfig.model_validate({"dagster": {"executor": BROKER, "storage": {"postgres": {"urlEnv": "PG_URL"}}}})
    assert config.dagster.grouping == "per-package"  # one step per package
    text = dagster_yaml(config)
    assert "env: PG_URL" in text and "postgresql" not in text.split("storage:")[1].replace("PostgreSQL", "")
    with pytest.raises(ValueError, match="password"):
        BuildConfig.model_validate({"dagster": {"executor": {"broker": "redis://:hunter2@h:6379/0"}}})
    with pytest.raises(ValueError, match="per-package"):
        BuildConfig.model_validate({"dagster": {"executor": BROKER, "grouping": "all"}})


def test_celery_settings_are_safe_for_worker_loss_and_keep_dagster_defaults():
    from package_builder_dagster.distributed.celery_settings import DAGSTER_TRANSPORT_DEFAULTS, config_source

    own = {"broker_transport_options": {"visibility_timeout": 99}, "worker_prefetch_multiplier": 2}
    source = config_source(BuildConfig.model_validate({"dagster": {"executor": {**BROKER, "config_source": own}}}))
    assert source["task_acks_late"] and source["task_reject_on_worker_lost"]
    assert source["worker_prefetch_multiplier"] == 2  # the config's own settings win
    transport = source["broker_transport_options"]
    assert transport["visibility_timeout"] == 99 and transport.items() >= DAGSTER_TRANSPORT_DEFAULTS.items()
    assert source["task_time_limit"] < 99  # a task is killed before Redis would hand it out again


def test_priorities_rank_into_redis_levels_lower_first():
    from package_builder_dagster.distributed.executor import redis_priorities, step_priority

    assert step_priority({"dagster/priority": "40"}) == 40
    assert step_priority({"dagster-celery/priority": "3", "dagster/priority": "40"}) == 3
    ranked = redis_priorities({"critical": 120, "middle": 7, "leaf": 0, "leaf2": 0})
    assert ranked == {"critical": 0, "middle": 5, "leaf": 9, "leaf2": 9}  # Redis serves 0 first
    assert set(redis_priorities({"a": 1, "b": 1}).values()) == {5}


# ---- real runs ------------------------------------------------------------------------------------


def test_the_poll_stretches_with_the_steps_waiting_and_stays_within_a_second():
    from package_builder_dagster.distributed.executor import POLL_SECONDS, poll_seconds

    assert poll_seconds(0) == poll_seconds(1) == POLL_SECONDS < 1.0  # a chain: a tenth of dagster-celery's tick
    assert poll_seconds(100) == POLL_SECONDS
    assert POLL_SECONDS < poll_seconds(500) < 1.0  # a wide layer: the Redis reads stay a small part of each pass
    assert poll_seconds(10_000) == 1.0
