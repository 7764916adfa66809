"""The forkserver's preload (orchestration/step_preload.py): the variable naming the run's job is
removed whatever happens, and a job it cannot build never stops the forkserver."""

from __future__ import annotations

from package_builder_dagster.orchestration import definitions
from package_builder_dagster.orchestration.step_preload import RUN_JOB_ENV, preload_run_job
from package_builder_dagster.secret_env import RUN_ARGS_ENV
from package_builder_dagster.secret_env import RUN_JOB_ENV as SECRET_ENV_NAME


def test_the_variable_is_removed_and_a_bad_value_is_left_to_the_step(monkeypatch):
    monkeypatch.setenv(RUN_JOB_ENV, "not json")
    preload_run_job()  # does not raise: the step process builds the job and reports the error
    import os

    assert RUN_JOB_ENV not in os.environ


def test_a_job_that_cannot_be_built_is_left_to_the_step(monkeypatch):
    monkeypatch.setenv(RUN_JOB_ENV, '{"config": {"workspaceRoot": "/nonexistent/ws"}, "translator": "no.such:Class"}')
    preload_run_job()
    import os

    assert RUN_JOB_ENV not in os.environ


def test_package_commands_never_get_the_variable():
    assert RUN_JOB_ENV == SECRET_ENV_NAME and RUN_JOB_ENV in RUN_ARGS_ENV


def test_the_job_cache_keeps_the_four_most_recently_used(monkeypatch):
    monkeypatch.setattr(definitions, "_JOBS", type(definitions._JOBS)())
    for i in range(4):
        definitions._remember((f"c{i}", "t", None), f"job{i}")  # type: ignore[arg-type]
    assert definitions._job("c0", "t", None) == "job0"  # a hit: now the most recent
    definitions._remember(("c4", "t", None), "job4")  # type: ignore[arg-type]
    assert [k[0] for k in definitions._JOBS] == ["c2", "c3", "c0", "c4"]  # c1, the least recently used, went
