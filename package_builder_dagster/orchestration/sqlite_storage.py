"""The embedded default's storage: Dagster's SQLite storage, with cheap event writes.

Dagster's own SQLite event log opens a new engine for every event and commits it with SQLite's
default rollback journal and `synchronous=FULL`: several fsyncs per event, 10-25 ms each on these
disks, which is most of what a cached or trivial package costs. This storage keeps one connection
per database file (run shard or index) for the life of the process and puts each file in WAL mode
with `synchronous=NORMAL`: a commit appends to the write-ahead log without an fsync; the log is
synced at checkpoints.

What a power loss can lose: the last commits before it (events of the run that was going on), never
the database itself (SQLite's WAL with NORMAL is consistent after a crash). A process that is killed
loses nothing: its commits are in the WAL file, which the next connection reads.

Everything else is Dagster's: the same files under the same folders (`history/`, `schedules/`), the
same schema and migrations, so the UI, sensors, re-execution and `dg` work on it unchanged, and an
instance written by plain Dagster is read as it is (its files switch to WAL on first write).

Dagster has no public extension point for this: the classes below subclass its SQLite storage
internals (`DagsterSqliteStorage`, `SqliteEventLogStorage` and its file watcher), imported through
orchestration/dagster_private.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from package_builder_dagster.orchestration.dagster_private import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    ConfigurableClassData,
    DagsterSqliteStorage,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
    _event_logs_directory,
)

MAX_OPEN_SHARDS = 16
# The SQLite files Dagster creates in a new instance's folder (runs, the event log's index, schedules).
NEW_FILES = (Path("history", "runs.db"), Path("history", "runs", "index.db"), Path("schedules", "schedules.db"))
MEMORY_DIR = Path("/dev/shm")  # run shards whose connection stays open (the index shard counts as one)


def _tune(dbapi_connection: Any, _record: Any) -> None:
    """WAL and NORMAL sync on every new connection (WAL is stored in the file; NORMAL is per connection)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class WalSqliteEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage with one kept connection per shard, in WAL mode with synchronous=NORMAL."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> sa.Engine:
        """The shard's engine, created once (the least recently used one is closed beyond the cap)."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = sa.create_engine(
                self.conn_string_for_shard(shard), poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},  # used under _db_lock
            )
            sa.event.listen(engine, "connect", _tune)
            self._engines[shard] = engine
            while len(self._engines) > MAX_OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        """Dagster's watcher, told about writes to the shard's WAL file too (in WAL mode a commit
        changes `<run>.db-wal`, not `<run>.db`, until a checkpoint)."""
        if not self._obs:
            from watchdog.observers import Observer

            self._obs = Observer()
            self._obs.start()
        watchdog = _WalWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))

    def release_connections(self) -> None:
        """Close the kept connections (the next write opens them again): before this process forks,
        as SQLite must not see a connection carried across a fork."""
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def dispose(self) -> None:
        self.release_connections()
        super().dispose()


class _WalWatchdog(SqliteEventLogStorageWatchdog):
    """Reads new events when the shard or its WAL file changes."""

    def __init__(self, storage: SqliteEventLogStorage, run_id: str, callback: Any, cursor: str | None):
        super().__init__(storage, run_id, callback, cursor)
        self._patterns = [self._log_path, self._log_path + "-wal"]

    def on_modified(self, event: Any) -> None:
        self._process_log()


class WalSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, events, schedules under `base_dir`) with the WAL event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = WalSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]) -> WalSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)  # Dagster's names its own class here

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return ConfigurableClassData(__name__, WalSqliteEventLogStorage.__name__,
                                     f"base_dir: {_event_logs_directory(self.base_dir)!r}\n")


def create_files_in_memory(base_dir: Path) -> None:
    """A new instance's SQLite files, made in memory (tmpfs) and copied into `base_dir`. Dagster makes
    each table and index in a commit of its own, an fsync each: 1.5-2 s on these disks against 0.4 s in
    memory; each copy is synced once. Nothing is done when a file exists or there is no tmpfs."""
    if not MEMORY_DIR.is_dir() or any((base_dir / f).exists() for f in NEW_FILES):
        return
    with tempfile.TemporaryDirectory(dir=MEMORY_DIR, prefix="package-builder-instance-") as scratch:
        WalSqliteStorage.from_local(scratch).dispose()
        for name in NEW_FILES:
            target = base_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            shutil.copyfile(Path(scratch) / name, partial)
            with open(partial, "rb+") as copied:
                os.fsync(copied.fileno())
            if target.exists():  # made meanwhile by another process: theirs stands
                partial.unlink()
            else:
                os.replace(partial, target)
