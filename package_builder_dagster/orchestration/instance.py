"""One persistent Dagster instance (SQLite) per workspace."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig

from package_builder_dagster.errors import UsageError

DAGSTER_YAML = """\
# Written by package-builder: a local instance on SQLite (the default storage) in this folder.
telemetry:
  enabled: false
"""


def prepare_home(config: BuildConfig) -> Path:
    """$DAGSTER_HOME, else the config's dagster.home, else <workspaceRoot>/production/.dagster."""
    home = config.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)  # child processes (run workers, the UI) share it
    return home


def get_instance(config: BuildConfig) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(prepare_home(config)))


PID_TAG = "package-builder/pid"
HOST_TAG = "package-builder/host"


def process_tags() -> dict[str, str]:
    """Tags that tie a run to the process running it, so a later build can tell if it died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs still 'in progress' whose build process on this host is gone; their ids."""
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED]
    recovered = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=active, tags={HOST_TAG: socket.gethostname()})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not _alive(pid):
            instance.report_run_failed(run, f"the build process (pid {pid}) is gone: it was killed or crashed; "
                                            "marked failed by package-builder before the next build")
            recovered.append(run.run_id)
    return recovered


class BuildLock:
    """One `build` at a time per Dagster home: a second one is refused with a clear message."""

    def __init__(self, home: Path):
        self.path = home / "build.lock"
        self._fh = None

    def acquire(self) -> None:
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise UsageError(f"another `package-builder build` is running on this workspace (pid {holder}); "
                             "wait for it to finish or stop it") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
