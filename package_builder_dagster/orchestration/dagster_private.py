"""Every name this project takes from Dagster's private modules (`dagster._*`), each with the reason
there is no public equivalent. Nothing else in the project imports `dagster._*`: when a Dagster
release moves one of these, this module is the one place to mend.

Tested on the `dagster` versions pyproject.toml admits (>=1.13.27,<1.14).
"""

from __future__ import annotations

import sys

from dagster._core.definitions.dependency import NodeHandle  # noqa: F401

# The celery worker (distributed/worker.py) rebuilds the step's job from the task's payload, retargets
# it at its own clone, and finds which packages a step key builds (to restore their dependencies).
from dagster._core.definitions.reconstruct import ReconstructableJob  # noqa: F401

# A CLI run plans no asset check (orchestration/launch.py): Dagster's public `create_run_for_job` plans
# every check of the selected assets, so the run is created the way it does, with an empty check
# selection; the plan and its snapshot are made by the same functions it calls.
from dagster._core.execution.api import create_execution_plan  # noqa: F401

# The executor (distributed/executor.py) subclasses dagster-celery's, which takes Dagster's retry mode
# and its config schema, and reads the same priority tag Dagster's own executors read.
from dagster._core.execution.retries import RetryMode, get_retries_config  # noqa: F401

# A CLI run is created with the code location's origin (the location `package-builder ui` serves),
# so the UI can re-execute it. Dagster creates such runs only inside its webserver/daemon workspace
# context; there is no public API to name a location's origin from outside it.
from dagster._core.remote_origin import (  # noqa: F401
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.snap import snapshot_from_execution_plan  # noqa: F401

# The embedded default's event log (orchestration/sqlite_storage.py) subclasses Dagster's SQLite
# storage: Dagster has no public storage extension point, only the `storage: custom:` class hook.
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (  # noqa: F401
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS  # noqa: F401
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory  # noqa: F401
from dagster._core.storage.tags import PRIORITY_TAG  # noqa: F401
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin  # noqa: F401

# The arguments of `dagster api execute_run` (a public command whose argument type is not public):
# the CLI starts a run's process the way Dagster's default run launcher does.
from dagster._grpc.types import ExecuteRunArgs, ExecuteStepArgs  # noqa: F401
from dagster._serdes import ConfigurableClassData, deserialize_value  # noqa: F401

# A distributed run's steps log on other machines: the instance there keeps no compute logs. The
# class is named in dagster.yaml (orchestration/instance.py), which takes a module path.
NOOP_COMPUTE_LOG_MANAGER = ("dagster._core.storage.noop_compute_log_manager", "NoOpComputeLogManager")


def execute_run_command(input_json: str) -> None:
    """What `dagster api execute_run` does, in this process: a fork of the CLI runs the command's own
    code (orchestration/launch.py), whose functions are private. The command also serializes every
    event into a buffer nobody reads (0.3 s of CPU for 300 events): not done here."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._cli.utils import get_instance_for_cli
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts():
        args = deserialize_value(input_json, ExecuteRunArgs)
        with get_instance_for_cli(instance_ref=args.instance_ref) as instance:
            code = _execute_run_command_body(args.run_id, instance, lambda _event: None,
                                             set_exit_code_on_failure=bool(args.set_exit_code_on_failure))
    if code:
        sys.exit(code)
