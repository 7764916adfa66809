"""Starting a build run the way Dagster's own launchers do, so CLI runs are first-class Dagster runs.

The run is created with the code location's origin (`package-builder`, the location `package-builder
ui` and `workspace.yaml` load), so the UI can re-execute it "from failure" or "from asset failure".
It is then executed by `dagster api execute_run`'s own code in a child process, as the default run
launcher's code server does: the child opens the instance from its reference, takes the job from the
run's own origin (config and translator travel in it, no environment variable), and captures the
steps' output into Dagster's compute logs. The launching process only follows the run, so nothing
else writes to its terminal.

The child is a fork of the launching process, which has imported Dagster and built the job already:
a fork costs milliseconds where a new `python -m dagster api execute_run` costs seconds of imports.
It is forked only while this process runs one thread (nothing else holds a lock the child would
inherit) and has no SQLite file open (SQLite's connections must not cross a fork); otherwise, or
off Linux, the command is started as a new process, as before.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.orchestration.dagster_private import (
    ExecuteRunArgs,
    LoadableTargetOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
    create_execution_plan,
    execute_run_command,
    snapshot_from_execution_plan,
)
from package_builder_dagster.orchestration.sqlite_storage import WalSqliteEventLogStorage
from package_builder_dagster.orchestration.translator import PackageTranslator

LOCATION_NAME = "package-builder"
DEFINITIONS_MODULE = "package_builder_dagster.orchestration.definitions"
REPOSITORY_NAME = "__repository__"  # the name Dagster gives the repository of a `Definitions`


def location_origin() -> ManagedGrpcPythonEnvCodeLocationOrigin:
    """The code location `package-builder ui` serves (`workspace.yaml`: this module's `defs`)."""
    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE, attribute="defs")
    return ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION_NAME)


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    return RemoteJobOrigin(RemoteRepositoryOrigin(location_origin(), REPOSITORY_NAME), job_name)


def create_build_run(instance: dg.DagsterInstance, recon_job: Any, keys: set[dg.AssetKey],
                     run_config: dict[str, Any], tags: dict[str, str]) -> Any:
    """A NOT_STARTED run of the job for the asset `keys`, with both origins: the code origin the
    run's process rebuilds the job from, and the code location's, which the UI re-executes from.

    No asset check is planned (Dagster's `create_run_for_job` plans every check of the assets): a
    package whose gates ran reports them as an evaluation of its `quality_gates` check, one event; a
    package restored from the cache carries the results recorded when it was built in its
    materialization, and its check keeps that build's evaluation (orchestration/assets.py)."""
    selection = frozenset(keys)
    job = recon_job.get_definition().get_subset(asset_selection=selection, asset_check_selection=frozenset())
    plan = create_execution_plan(job, run_config=run_config, tags=tags,
                                 instance_ref=instance.get_ref() if instance.is_persistent else None)
    return instance.create_run(
        job_name=job.name, run_id=None, run_config=run_config, status=None, tags=tags, root_run_id=None,
        parent_run_id=None, step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=snapshot_from_execution_plan(plan, job.get_job_snapshot_id()),
        job_snapshot=job.get_job_snapshot(), parent_job_snapshot=job.get_parent_job_snapshot(),
        asset_selection=selection, asset_check_selection=frozenset(), resolved_op_selection=None, op_selection=None,
        remote_job_origin=remote_job_origin(job.name), job_code_origin=recon_job.get_python_origin(),
        asset_graph=job.asset_layer.asset_graph,
    )


def _die_with_parent() -> None:
    """In the child: SIGINT when the launching process dies (the signal `dagster api execute_run`
    turns into an interrupt that stops every command), so a killed CLI leaves nothing running."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_run_process(instance: dg.DagsterInstance, run_id: str, output: Path,
                      env: dict[str, str] | None = None) -> RunProcess | subprocess.Popen:
    """`dagster api execute_run` for `run_id` in a child process (a fork of this one when it can be);
    the child's own output goes to `output`; `env`: variables for the child alone."""
    args = dg.serialize_value(ExecuteRunArgs(job_origin=instance.get_run_by_id(run_id).job_code_origin, run_id=run_id,
                                          instance_ref=instance.get_ref(), set_exit_code_on_failure=True))
    output.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(instance.event_log_storage, WalSqliteEventLogStorage):
        instance.event_log_storage.release_connections()
    if can_fork():
        return _fork_run(args, output, env or {})
    with open(output, "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "dagster", "api", "execute_run"],
            env={**os.environ, **(env or {}), "DAGSTER_EXECUTE_RUN_ARGS": args, "PYTHONPATH": _import_path()},
            stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def running_threads() -> int:
    """The threads of this process, native ones included where the system lists them."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def open_databases() -> list[str]:
    """The SQLite files this process has open (a fork must not carry their connections)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor
        if target.endswith((".db", ".db-wal", ".db-shm", ".sqlite")):
            found.append(target)
    return found


def can_fork() -> bool:
    """Whether the run's process can be a fork of this one: Linux (its /proc tells what follows), this
    thread alone (no lock held by another), and no SQLite file open."""
    return sys.platform == "linux" and running_threads() == 1 and not open_databases()


class RunProcess:
    """A forked run process, with the part of `subprocess.Popen` the launcher uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal that ended it), as `Popen.wait` gives it."""
        if timeout is None:
            while self.returncode is None:
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["execute_run", str(self.pid)], timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _fork_run(args: str, output: Path, env: dict[str, str]) -> RunProcess:
    """Fork the run's process; in the child, execute the run and exit without returning."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write this process's buffered output again
    sink = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _execute_in_child(args, sink, parent, env)
    os.close(sink)
    return RunProcess(pid)


def _execute_in_child(args: str, sink: int, parent: int, env: dict[str, str]) -> NoReturn:
    """The forked child: the process `dagster api execute_run` would be (same stdio, no other inherited
    file, SIGINT when the launcher dies), then `os._exit` (no handler of the launcher's runs here)."""
    code = 1
    try:
        gc.freeze()  # the launcher's objects are never collected here: no finalizer closes a descriptor reused below
        _die_with_parent()
        if os.getppid() != parent:  # the launcher died before the signal was asked for
            os.kill(os.getpid(), signal.SIGINT)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)  # the build lock, the storage
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        os.environ.update(env)
        os.environ["PYTHONPATH"] = _import_path()  # the run's step processes import what this one can
        execute_run_command(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must reach os._exit, whatever happened
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _import_path() -> str:
    """This process's import path, so the run's process (and its step processes) can import what
    this one could: a translator subclass defined in a user's own module, say."""
    entries = [p for p in sys.path if p and os.path.isdir(p)]
    return os.pathsep.join(dict.fromkeys([*entries, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))


@dataclass
class FinishedRun:
    """What `package-builder build` reads of a run once its process has exited."""

    run_id: str
    success: bool
    all_events: list[Any]  # how its steps and the run ended: successes, failures, a cancel
    exit_code: int


def finished_run(instance: dg.DagsterInstance, run_id: str, exit_code: int) -> FinishedRun:
    """The run's outcome once its process exited; a run the process left unfinished (it crashed before
    the run could record its end) is marked failed here, with the process's exit code."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, f"the run's process exited with code {exit_code} before the run ended")
        run = instance.get_run_by_id(run_id)
    kinds = dg.DagsterEventType
    ended = {kinds.STEP_SUCCESS, kinds.STEP_FAILURE, kinds.RUN_SUCCESS, kinds.RUN_FAILURE, kinds.RUN_CANCELED}
    records = instance.get_records_for_run(run_id, of_type=ended, limit=100_000).records  # not the whole log again
    events = [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event is not None]
    return FinishedRun(run_id, run is not None and run.status == dg.DagsterRunStatus.SUCCESS, events, exit_code)


def execute_build_run(instance: dg.DagsterInstance, config: BuildConfig, translator: PackageTranslator,
                      keys: set[dg.AssetKey], tags: dict[str, str], output: Path,
                      graph: WorkspaceGraph | None = None,
                      defs: dg.Definitions | None = None) -> tuple[str, RunProcess | subprocess.Popen]:
    """Create the build run and start its process; (run id, process). The caller follows the event
    log and waits for the process (`finished_run` then reads the outcome). `graph`: the workspace the
    caller discovered, carried by the run so its processes do not discover it again; `defs`: the
    definitions the caller built from it (reused, not built again)."""
    from package_builder_dagster.orchestration.definitions import reconstructable_job, step_preload_env

    recon_job = reconstructable_job(config, translator, graph, defs)
    run = create_build_run(instance, recon_job, keys, {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                           {"package-builder/source": "cli", **tags})
    return run.run_id, start_run_process(instance, run.run_id, output, step_preload_env(config, recon_job))


def wait_for(proc: RunProcess | subprocess.Popen, grace_seconds: float = 60) -> int:
    """The run process's exit code. Ctrl-C (or SIGTERM turned into KeyboardInterrupt) is passed on
    as SIGINT, so the run stops its commands and records its end; a process that does not end within
    the grace time is killed."""
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def execute_build(instance: dg.DagsterInstance, config: BuildConfig, translator: PackageTranslator,
                  keys: set[dg.AssetKey], tags: dict[str, str] | None = None) -> FinishedRun:
    """Run the build job for the asset `keys` to its end, as `package-builder build` does (without
    the live progress). The config and the translator travel in the run's origin."""
    output = config.logs_dir / "run-processes" / f"{os.getpid()}.log"
    run_id, proc = execute_build_run(instance, config, translator, keys, tags or {}, output)
    return finished_run(instance, run_id, wait_for(proc))
