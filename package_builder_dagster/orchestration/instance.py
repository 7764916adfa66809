"""One persistent Dagster instance (SQLite) per workspace."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import dagster as dg
from filelock import FileLock, Timeout

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.errors import UsageError
from package_builder_dagster.orchestration.dagster_private import NOOP_COMPUTE_LOG_MANAGER
from package_builder_dagster.orchestration.unreported import alive

WRITTEN_BY = "# Written by package-builder"


def sqlite_yaml(home: Path) -> str:
    """Dagster's SQLite storage in `home`, its event log in WAL mode (orchestration/sqlite_storage.py)."""
    return (f"{WRITTEN_BY}: a local instance on SQLite in this folder; events in WAL mode with synchronous=NORMAL\n"
            "# (a power loss can lose the last events written, never the database).\n"
            "telemetry:\n  enabled: false\n"
            "storage:\n  custom:\n    module: package_builder_dagster.orchestration.sqlite_storage\n"
            f"    class: WalSqliteStorage\n    config:\n      base_dir: {json.dumps(str(home))}\n")


def dagster_yaml(config: BuildConfig) -> str:
    """The instance's dagster.yaml: SQLite in the home folder, or dagster-postgres when the config's
    `dagster.storage.postgres` names the variable holding the URL (the URL itself is never written:
    Dagster reads the variable wherever the instance is loaded, workers included)."""
    postgres = config.dagster.storage.postgres
    if postgres is None:
        return sqlite_yaml(config.dagster_home)
    text = (f"{WRITTEN_BY}: runs, events and schedules in PostgreSQL (the URL is read from ${postgres.urlEnv}).\n"
            f"telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url:\n      env: {postgres.urlEnv}\n")
    if config.dagster.executor is not None:  # steps run on other machines: no step logs under this folder
        module, name = NOOP_COMPUTE_LOG_MANAGER
        text += f"compute_logs:\n  module: {module}\n  class: {name}\n"
    return text


def use_psycopg2(url_env: str) -> None:
    """SQLAlchemy >= 2.1 reads a plain postgresql:// URL as psycopg 3, which dagster-postgres does not
    install: point this process's (and its children's) variable at psycopg2. Never logs the value."""
    url = os.environ.get(url_env, "")
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            os.environ[url_env] = "postgresql+psycopg2://" + url[len(plain):]


def prepare_home(config: BuildConfig) -> Path:
    """$DAGSTER_HOME, else the config's dagster.home, else <workspaceRoot>/production/.dagster.
    Its dagster.yaml is written when missing, and rewritten when package-builder wrote it and the
    storage settings changed; a dagster.yaml of your own is left as it is."""
    home = config.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path, wanted = home / "dagster.yaml", dagster_yaml(config)
    if not path.exists() or (path.read_text().startswith(WRITTEN_BY) and path.read_text() != wanted):
        path.write_text(wanted)
    postgres = config.dagster.storage.postgres
    if postgres is not None:
        if not os.environ.get(postgres.urlEnv):
            raise UsageError(f"dagster.storage.postgres.urlEnv names ${postgres.urlEnv}, which is not set")
        use_psycopg2(postgres.urlEnv)
    os.environ["DAGSTER_HOME"] = str(home)  # child processes (run workers, the UI) share it
    return home


def get_instance(config: BuildConfig) -> dg.DagsterInstance:
    """The instance in the config's home; a new one on the embedded default has its SQLite files made
    in memory first (orchestration/sqlite_storage.py: seconds of fsyncs saved)."""
    home = prepare_home(config)
    if config.dagster.storage.postgres is None and (home / "dagster.yaml").read_text() == dagster_yaml(config):
        from package_builder_dagster.orchestration.sqlite_storage import create_files_in_memory

        create_files_in_memory(home)
    return dg.DagsterInstance.from_config(str(home))


PID_TAG = "package-builder/pid"
HOST_TAG = "package-builder/host"


def process_tags() -> dict[str, str]:
    """Tags that tie a run to the process running it, so a later build can tell if it died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs still 'in progress' whose build process on this host is gone; their ids."""
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED]
    recovered = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=active, tags={HOST_TAG: socket.gethostname()})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not alive(pid):
            instance.report_run_failed(run, f"the build process (pid {pid}) is gone: it was killed or crashed; "
                                            "marked failed by package-builder before the next build")
            recovered.append(run.run_id)
    return recovered


class BuildLock:
    """One `build` at a time per Dagster home: a second one is refused with a clear message. The lock
    (`build.lock`, flock: the system frees it when the process ends) is held until this process exits;
    the holder's pid is in `build.pid` beside it."""

    def __init__(self, home: Path):
        self.path = home / "build.lock"
        self.pid_path = home / "build.pid"
        self._lock = FileLock(self.path)

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            try:
                holder = self.pid_path.read_text().strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise UsageError(f"another `package-builder build` is running on this workspace (pid {holder}); "
                             "wait for it to finish or stop it") from None
        self.pid_path.write_text(str(os.getpid()))
