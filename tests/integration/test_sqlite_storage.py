"""The embedded default's event log: WAL mode, kept connections, and every Dagster reader still works."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.orchestration.instance import get_instance
from package_builder_dagster.orchestration.sqlite_storage import WalSqliteEventLogStorage

WRITE_EVENTS = """
import sys, time
import dagster as dg
from dagster._core.events.log import EventLogEntry
instance = dg.DagsterInstance.from_config(sys.argv[1])
for i in range(int(sys.argv[3])):
    instance.event_log_storage.store_event(EventLogEntry(error_info=None, level="INFO", user_message=f"m{i}",
                                                         run_id=sys.argv[2], timestamp=time.time()))
    time.sleep(0.05)
"""


def _home(tmp_path):
    config = BuildConfig(workspaceRoot=str(tmp_path), dagster={"home": str(tmp_path / "home")})
    return config, get_instance(config)


def _write_from_another_process(home, run_id: str, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITE_EVENTS, str(home), run_id, str(count)])


def test_the_default_instance_writes_its_events_in_wal_mode_and_another_process_reads_them(tmp_path):
    config, instance = _home(tmp_path)
    assert isinstance(instance.event_log_storage, WalSqliteEventLogStorage)
    assert _write_from_another_process(config.dagster_home, "run-a", 20).wait(60) == 0
    assert len(instance.get_records_for_run("run-a").records) == 20
    shard = config.dagster_home / "history" / "runs" / "run-a.db"
    with sqlite3.connect(shard) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain = tmp_path / "plain"  # Dagster's own SQLite storage reads the same files
    plain.mkdir()
    (plain / "dagster.yaml").write_text(f"telemetry:\n  enabled: false\nstorage:\n  sqlite:\n    base_dir: {config.dagster_home}\n")
    assert len(dg.DagsterInstance.from_config(str(plain)).get_records_for_run("run-a").records) == 20


def test_a_watcher_sees_events_as_another_process_commits_them(tmp_path):
    """What the UI's live run view and a run's followers rely on: commits that land in the WAL file
    (not in `<run>.db`) still wake the watcher, before the writer ends."""
    config, instance = _home(tmp_path)
    seen: list[str] = []
    arrived = threading.Event()

    def callback(entry, _cursor):
        seen.append(entry.user_message)
        if len(seen) >= 5:
            arrived.set()

    _write_from_another_process(config.dagster_home, "run-w", 1).wait(60)  # the shard exists
    instance.event_log_storage.watch("run-w", None, callback)
    try:
        writer = _write_from_another_process(config.dagster_home, "run-w", 200)
        assert arrived.wait(60), f"the watcher saw {len(seen)} event(s)"
        assert writer.poll() is None, "seen while the writer still writes"
        writer.wait(60)
    finally:
        instance.event_log_storage.end_watch("run-w", callback)
        instance.event_log_storage.dispose()
    assert seen[0] in ("m0", "m1")


def test_asset_events_reach_the_index_shard(tmp_path):
    _config, instance = _home(tmp_path)
    started = time.monotonic()
    for i in range(50):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=["ex", f"p{i % 5}"], metadata={"i": i}))
    assert time.monotonic() - started < 30
    event = instance.get_latest_materialization_event(dg.AssetKey(["ex", "p4"]))
    assert event is not None and event.asset_materialization.metadata["i"].value == 49


def test_a_new_instance_gets_its_files_made_in_memory_and_an_existing_one_is_left_alone(tmp_path):
    from package_builder_dagster.orchestration.sqlite_storage import NEW_FILES, create_files_in_memory

    home = tmp_path / "home"
    create_files_in_memory(home)
    for name in NEW_FILES:  # Dagster's schema, stamped with its revision: a real instance's files
        with sqlite3.connect(home / name) as db:
            assert db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1, name
    runs = home / NEW_FILES[0]
    with sqlite3.connect(runs) as db:
        db.execute("CREATE TABLE kept (x)")
    create_files_in_memory(home)
    with sqlite3.connect(runs) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'kept'").fetchone(), "an existing file was replaced"
    assert not list(home.rglob("*.partial"))
    _, instance = _home(tmp_path)  # the home the config names: Dagster opens the files as its own
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="a"))
    assert instance.get_latest_materialization_event(dg.AssetKey("a")) is not None
