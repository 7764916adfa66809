"""The scale-out (docs/scale-out.md): config, the run's commit, priorities, and real runs on the
celery executor with real redis-server, PostgreSQL, the artifact store's server and
`package-builder worker` processes, each in its own clone."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distributed_cluster import Cluster, git, make_origin  # noqa: E402
from servers import ServerUnavailable  # noqa: E402

from package_builder_dagster.examples import PackageSpec, layered_specs  # noqa: E402

# ---- without servers ----------------------------------------------------------------------------


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
