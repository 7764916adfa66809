"""Starting a build run the way Dagster's own launchers do, so CLI runs are first-class Dagster runs.

The run is created with the code location's origin (`package-builder`, the location `package-builder
ui` and `workspace.yaml` load), so the UI can re-execute it "from failure" or "from asset failure".
It is then executed by `dagster api execute_run` in a child process, as the default run launcher's
code server does: the child rebuilds the job from the run's own origin (config and translator travel
in it, no environment variable), and captures the steps' output into Dagster's compute logs. The
launching process only follows the event log, so nothing else writes to its terminal.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.orchestration.dagster_private import (
    ExecuteRunArgs,
    LoadableTargetOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
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
    run's process rebuilds the job from, and the code location's, which the UI re-executes from."""
    job = recon_job.get_definition()
    selection = frozenset(keys)
    return instance.create_run_for_job(
        job_def=job, run_config=run_config, tags=tags, asset_selection=selection,
        job_code_origin=recon_job.get_python_origin(), remote_job_origin=remote_job_origin(job.name),
    )


def _die_with_parent() -> None:
    """In the child: SIGINT when the launching process dies (the signal `dagster api execute_run`
    turns into an interrupt that stops every command), so a killed CLI leaves nothing running."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_run_process(instance: dg.DagsterInstance, run_id: str, output: Path) -> subprocess.Popen:
    """`dagster api execute_run` for `run_id` in a child process; its own output goes to `output`."""
    args = dg.serialize_value(ExecuteRunArgs(job_origin=instance.get_run_by_id(run_id).job_code_origin, run_id=run_id,
                                          instance_ref=instance.get_ref(), set_exit_code_on_failure=True))
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "dagster", "api", "execute_run"],
            env={**os.environ, "DAGSTER_EXECUTE_RUN_ARGS": args, "PYTHONPATH": _import_path()},
            stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


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
    all_events: list[Any]
    exit_code: int


def finished_run(instance: dg.DagsterInstance, run_id: str, exit_code: int) -> FinishedRun:
    """The run's outcome once its process exited; a run the process left unfinished (it crashed before
    the run could record its end) is marked failed here, with the process's exit code."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, f"the run's process exited with code {exit_code} before the run ended")
        run = instance.get_run_by_id(run_id)
    events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event is not None]
    return FinishedRun(run_id, run is not None and run.status == dg.DagsterRunStatus.SUCCESS, events, exit_code)


def execute_build_run(instance: dg.DagsterInstance, config: BuildConfig, translator: PackageTranslator,
                      keys: set[dg.AssetKey], tags: dict[str, str], output: Path,
                      graph: WorkspaceGraph | None = None) -> tuple[str, subprocess.Popen]:
    """Create the build run and start its process; (run id, process). The caller follows the event
    log and waits for the process (`finished_run` then reads the outcome). `graph`: the workspace the
    caller discovered, carried by the run so its processes do not discover it again."""
    from package_builder_dagster.orchestration.definitions import reconstructable_job

    run = create_build_run(instance, reconstructable_job(config, translator, graph), keys,
                           {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                           {"package-builder/source": "cli", **tags})
    return run.run_id, start_run_process(instance, run.run_id, output)


def wait_for(proc: subprocess.Popen, grace_seconds: float = 60) -> int:
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
