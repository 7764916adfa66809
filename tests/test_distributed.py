"""The scale-out (docs/scale-out.md): config, the run's commit, priorities, and real runs on the
celery executor with real redis-server, PostgreSQL, the artifact store's server and
`package-builder worker` processes, each in its own clone."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from distributed_cluster import Cluster, git, make_origin  # noqa: E402
from servers import ServerUnavailable  # noqa: E402

from package_builder_dagster.discovery.config import BuildConfig  # noqa: E402
from package_builder_dagster.errors import UsageError  # noqa: E402
from package_builder_dagster.examples import PackageSpec, layered_specs  # noqa: E402

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

@pytest.fixture
def cluster(tmp_path_factory, toolchain, request):
    executor = getattr(request, "param", {})
    # not pytest's tmp_path: PostgreSQL runs as `nobody`, and /tmp/pytest-of-root is 0700
    tmp = Path(tmp_path_factory.mktemp("scaleout"))
    try:
        with Cluster(tmp, toolchain, executor=executor) as c:
            yield c
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


def package_runs(cluster: Cluster, run_id: str) -> dict[str, list[dict]]:
    """Package name -> the metadata of each of its materializations in the run."""
    import dagster as dg

    instance = cluster.instance()
    found: dict[str, list[dict]] = {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        mat = record.event_log_entry.asset_materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        if "worker_pid" in meta:
            found.setdefault(mat.asset_key.to_user_string(), []).append(meta)
    return found


def latest_run(cluster: Cluster):
    return cluster.instance().get_runs(limit=1)[0]


def step_starts(cluster: Cluster, run_id: str, step_key: str) -> int:
    import dagster as dg

    records = cluster.instance().get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return sum(1 for r in records if r.event_log_entry.step_key == step_key)


def test_two_workers_build_every_package_in_their_own_clones(cluster):
    origin = make_origin(cluster.tmp / "origin", layered_specs(10))
    cluster.write_config(origin)
    w1, w2 = cluster.start_worker("w1"), cluster.start_worker("w2")
    cluster.wait_ready()
    result = cluster.build()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    run = latest_run(cluster)
    assert run.tags["package-builder/commit"] == git(origin, "rev-parse", "HEAD")
    runs = package_runs(cluster, run.run_id)
    assert len(runs) == 10 and all(len(m) == 1 for m in runs.values()), runs  # each exactly once
    used = {m[0]["working_copy"] for m in runs.values()}
    assert used == {str(w1.clone), str(w2.clone)}, "steps were not spread over both workers"
    for metas in runs.values():
        worker = w1 if metas[0]["working_copy"] == str(w1.clone) else w2
        assert f"pid {metas[0]['worker_pid']}:" in worker.log.read_text()  # the pool process that ran it
        assert metas[0]["worker_host"]
    # nothing was built in the orchestrator's tree; each clone installed once with the frozen install
    assert not list(origin.glob("packages/*/*/dist"))
    for worker in (w1, w2):
        assert worker.log.read_text().count("installed with `npm ci") == 1, worker.log.read_text()[-2000:]

    # a tracked file changed in the orchestrator's tree: `build` refuses it (exit 2), naming the file
    (origin / "package.json").write_text((origin / "package.json").read_text() + "\n")
    refused = cluster.build()
    assert refused.returncode == 2 and "modified or staged" in refused.stderr and "package.json" in refused.stderr
    assert latest_run(cluster).run_id == run.run_id  # no run was created
    # and a run created without the commit tag (the UI, a sensor) is failed by the executor, naming it
    from package_builder_dagster.discovery.config import load_config
    from package_builder_dagster.orchestration.launch import execute_build
    from package_builder_dagster.orchestration.translator import PackageTranslator

    instance = cluster.instance()
    config = load_config(cluster.config)
    key = PackageTranslator().get_asset_key(next(iter(discover(config))))
    assert not execute_build(instance, config, PackageTranslator(), {key}).success
    failed = latest_run(cluster)
    assert failed.run_id != run.run_id and "package-builder/commit" not in failed.tags
    assert any("modified or staged" in m and "package.json" in m for m in run_messages(cluster, failed.run_id))


def discover(config):
    from package_builder_dagster.discovery.workspace import discover_for

    return discover_for(config)


def test_worker_without_executor_config_is_bad_input(tmp_path):
    from conftest import run_cli

    origin = make_origin(tmp_path / "ws", layered_specs(2))
    config = tmp_path / "plain.json"
    config.write_text(json.dumps({"workspaceRoot": str(origin)}))
    result = run_cli("worker", "--config", str(config))
    assert result.code == 2 and "no dagster.executor" in result.stderr


@pytest.mark.parametrize("cluster", [{"visibilityTimeoutSeconds": 15}], indirect=True)
def test_killed_worker_package_runs_again_on_the_other(cluster):
    specs = [PackageSpec("base", "core"), PackageSpec("victim", "utility", ["base"], sleep_ms=5000),
             PackageSpec("top", "service", ["victim"])]
    origin = make_origin(cluster.tmp / "origin", specs)
    cluster.write_config(origin)
    workers = [cluster.start_worker("w1"), cluster.start_worker("w2")]
    cluster.wait_ready()
    build = cluster.start_build()
    try:
        victim = wait_for_start(workers, "@ex/victim", timeout=120)
        time.sleep(1.5)
        killed_at = time.time()
        victim.kill()
        output, _ = build.communicate(timeout=180)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == 0, output[-3000:]
    survivor = next(w for w in workers if w is not victim)
    again = [int(line.split()[0]) / 1000 for line in events(survivor) if line.endswith("start build @ex/victim")]
    assert again, "the victim package never ran on the surviving worker"
    print(f"\nkill -> package running again on the other worker: {again[0] - killed_at:.1f} s")

    run = latest_run(cluster)
    runs = package_runs(cluster, run.run_id)
    assert sorted(runs) == ["ex/base", "ex/top", "ex/victim"]
    assert all(len(m) == 1 for m in runs.values()), runs  # never materialized twice
    assert runs["ex/victim"][0]["working_copy"] == str(survivor.clone)
    assert step_starts(cluster, run.run_id, "package__ex_victim") == 2


@pytest.mark.parametrize("cluster", [{"workerLostTimeoutSeconds": 6}], indirect=True)
def test_run_fails_in_bounded_time_when_every_worker_is_gone(cluster):
    specs = [PackageSpec("base", "core", sleep_ms=8000), PackageSpec("top", "service", ["base"])]
    origin = make_origin(cluster.tmp / "origin", specs)
    cluster.write_config(origin)
    worker = cluster.start_worker("only")
    cluster.wait_ready()
    build = cluster.start_build()
    try:
        wait_for_start([worker], "@ex/base", timeout=120)
        killed_at = time.monotonic()
        worker.kill()
        output, _ = build.communicate(timeout=120)
    finally:
        if build.poll() is None:
            build.kill()
    took = time.monotonic() - killed_at
    assert build.returncode == 1, output[-3000:]
    assert took < 6 + 5 + 15, f"the run took {took:.1f} s to fail after the last worker was killed"
    print(f"\nlast worker killed -> build exited: {took:.1f} s")
    import dagster as dg

    run = latest_run(cluster)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert any("no celery worker answered a ping" in m for m in run_messages(cluster, run.run_id))


def run_messages(cluster: Cluster, run_id: str) -> list[str]:
    """Every event's message and event data (errors included) of a run, as text."""
    records = cluster.instance().get_records_for_run(run_id).records
    return [r.event_log_entry.message or "" for r in records] + [
        str(r.event_log_entry.dagster_event.event_specific_data) for r in records if r.event_log_entry.dagster_event is not None]


def events(worker) -> list[str]:
    path = worker.clone / "build-events.log"
    return path.read_text().splitlines() if path.exists() else []


def wait_for_start(workers, package: str, timeout: float):
    """The worker whose clone's build-events.log shows `package`'s build starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            if any(line.endswith(f"start build {package}") for line in events(worker)):
                return worker
        time.sleep(0.1)
    raise AssertionError(f"{package} never started: " + " | ".join(w.log.read_text()[-1500:] for w in workers))


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
