"""Incremental builds: --stale, --failed, --since, the change sensors, and crash safety, on real runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from conftest import GIT_IDENTITY, REPO, git_commit_all, workspace_instance

from package_builder_dagster.examples import PackageSpec, generate

SPECS = [
    PackageSpec("core-a", "core"),
    PackageSpec("util-b", "utility", ["core-a"]),
    PackageSpec("svc-c", "service", ["util-b"]),
    PackageSpec("val-d", "validator"),
    PackageSpec("leaf-e", "ui", ["val-d"]),
]


def committed_workspace(tmp_path: Path, specs=SPECS) -> Path:
    root = generate(tmp_path / "ws", specs, kind="trivial")
    return git_commit_all(root)


def started_builds(root: Path) -> list[str]:
    log = root / "build-events.log"
    return [line.split()[3] for line in log.read_text().splitlines() if " start build " in line] if log.exists() else []


def rebuilt(cli, root: Path, *flags: str) -> list[str]:
    """Run `build FLAGS`; the packages it started building, in order."""
    before = len(started_builds(root))
    res = cli("build", "--workspace", str(root), *flags)
    assert res.code == 0, res.output
    return started_builds(root)[before:]


def test_stale_builds_only_what_changed_and_its_dependents(tmp_path, cli):
    root = committed_workspace(tmp_path)
    assert len(rebuilt(cli, root)) == 5
    runs = len(workspace_instance(root).get_runs())
    res = cli("build", "--workspace", str(root), "--stale")
    assert res.code == 0 and "everything is up to date" in res.stdout
    assert len(workspace_instance(root).get_runs()) == runs  # no run, so no package step at all

    (root / "packages/ui/leaf-e/README.md").write_text("a leaf changed\n")
    assert rebuilt(cli, root, "--stale") == ["@ex/leaf-e"]

    (root / "packages/core/core-a/index.js").write_text("module.exports = 2;\n")
    assert sorted(rebuilt(cli, root, "--stale")) == ["@ex/core-a", "@ex/svc-c", "@ex/util-b"]
    assert "everything is up to date" in cli("build", "--workspace", str(root), "--stale").stdout

    # --since: files changed since a git ref, and their dependents; combined with --select. Their
    # outputs are in the artifact cache, so they are restored, not rebuilt, unless the cache is off.
    assert rebuilt(cli, root, "--since", "HEAD") == []
    assert sorted(rebuilt(cli, root, "--since", "HEAD", "--cache", "off")) == ["@ex/core-a", "@ex/leaf-e", "@ex/svc-c", "@ex/util-b"]
    assert rebuilt(cli, root, "--since", "HEAD", "--select", "@ex/leaf-e", "--cache", "off") == ["@ex/leaf-e"]


def test_failed_rebuilds_the_failed_and_blocked_packages_only(tmp_path, cli):
    specs = [PackageSpec(s.short, s.category, list(s.deps), {"build-fail"} if s.short == "util-b" else set()) for s in SPECS]
    root = committed_workspace(tmp_path, specs)
    assert cli("build", "--workspace", str(root)).code == 1
    manifest = root / "packages/utilities/util-b/package.json"
    manifest.write_text(manifest.read_text().replace(" build fail ", " build ok "))
    assert sorted(rebuilt(cli, root, "--failed")) == ["@ex/svc-c", "@ex/util-b"]
    assert "everything is up to date" in cli("build", "--workspace", str(root), "--stale").stdout


def test_plan_sensor_requests_exactly_the_changed_package(tmp_path, monkeypatch):
    from package_builder_dagster.discovery.config import load_config
    from package_builder_dagster.orchestration import definitions
    from package_builder_dagster.orchestration.instance import prepare_home

    root = committed_workspace(tmp_path)
    plan = root / "plans/packages/utility/util-b.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("# util-b\n")
    monkeypatch.setenv("PACKAGE_BUILDER_WORKSPACE", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # prepare_home sets it: restored after the test
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_home(load_config(workspace=root))))
    defs = definitions.build_definitions(load_config(workspace=root))
    sensor = defs.get_sensor_def("package_builder_plan_changes")
    assert defs.get_sensor_def("package_builder_source_changes").default_status == dg.DefaultSensorStatus.STOPPED

    def tick(instance, cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs) as context:
            result = sensor.evaluate_tick(context)
        return result.run_requests, result.cursor

    for instance in (dg.DagsterInstance.ephemeral(), workspace_instance(root)):
        requests, cursor = tick(instance, None)
        assert requests == []  # the first tick only records
        plan.write_text("# util-b\nNow with retries.\n")
        (root / "plans/packages/core").mkdir(exist_ok=True)
        (root / "plans/packages/core/core-a.md").write_text("# core-a\n")  # a new plan: its package too
        requests, cursor = tick(instance, cursor)
        assert [sorted(k.to_user_string() for k in r.asset_selection) for r in requests] == [["ex/core-a", "ex/util-b"]]
        requests, cursor = tick(instance, cursor)
        assert requests == []  # nothing new: nothing requested again
        (root / "plans/packages/core/core-a.md").unlink()
        plan.write_text("# util-b\n")


def test_killed_build_is_finished_by_stale_without_rebuilding_what_succeeded(tmp_path, cli):
    specs = [PackageSpec(f"p{i}", "core", sleep_ms=1500) for i in range(6)]
    root = committed_workspace(tmp_path, specs)
    for manifest_path in root.glob("packages/core/*/package.json"):  # tests take time too: packages finish one by one
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"]["test"] = manifest["scripts"]["test"].replace("test ok 0", "test ok 1500")
        manifest_path.write_text(json.dumps(manifest, indent=2))
    subprocess.run(["git", "commit", "-qam", "slow tests"], cwd=root, check=True, env={**os.environ, **GIT_IDENTITY})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    proc = subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", "2"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    events = root / "build-events.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # two packages built: the run's storage is surely set up by now
        if events.exists() and events.read_text().count(" end build ") >= 2:
            break
        time.sleep(0.2)
    instance = workspace_instance(root)
    # A second build while the first runs is refused.
    second = cli("build", "--workspace", str(root))
    assert second.code == 2 and "another `package-builder build` is running" in second.stderr
    [killed] = instance.get_runs()

    def materialized_now() -> set[str]:
        return {r.event_log_entry.asset_materialization.asset_key.to_user_string()
                for r in instance.get_records_for_run(killed.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records}

    while time.monotonic() < deadline and len(materialized_now()) < 2:  # builds run first, then tests: wait for two packages
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its run process at once, as a crash or the OOM killer would
    proc.wait()
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED  # nothing else marks it failed
    materialized = materialized_now()
    assert 2 <= len(materialized) < 6
    time.sleep(2)  # let the killed build's orphaned commands finish

    res = cli("build", "--workspace", str(root), "--stale")
    assert res.code == 0, res.output
    assert "marked failed" in res.stdout
    assert workspace_instance(root).get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    [latest] = [r for r in workspace_instance(root).get_runs() if r.run_id != killed.run_id]
    rebuilt_keys = {k.to_user_string() for k in latest.asset_selection}
    assert not rebuilt_keys & materialized  # nothing that succeeded before the kill was built again
    assert rebuilt_keys | materialized == {f"ex/p{i}" for i in range(6)}
    assert "everything is up to date" in cli("build", "--workspace", str(root), "--stale").stdout
    summary = json.loads(next((root / "production/reports").glob(f"*/runs/{killed.run_id}/suite-summary.json")).read_text())
    assert summary["runStatus"] == "FAILURE"


def test_up_to_date_is_decided_without_importing_dagster_and_never_when_outputs_are_gone(tmp_path, cli):
    root = committed_workspace(tmp_path)
    assert cli("build", "--workspace", str(root)).code == 0
    probe = ("import sys; from package_builder_dagster.cli.main import main; code = main(['build', '--workspace', sys.argv[1], '--stale']);"
             "print('dagster imported:', 'dagster' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, env=env, cwd=REPO).stdout
    assert "everything is up to date" in out and "dagster imported: False" in out, out
    (root / "packages/ui/leaf-e/dist/index.js").unlink()
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, env=env, cwd=REPO).stdout
    assert "everything is up to date" not in out and "dagster imported: True" in out, out
    assert (root / "packages/ui/leaf-e/dist/index.js").is_file()  # restored from the local store
