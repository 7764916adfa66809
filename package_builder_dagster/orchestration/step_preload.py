"""What the multiprocess executor's forkserver imports before it forks any step process (its
`preload_modules`): the run's job, built once there, so each step process (`dagster.grouping:
per-package`) starts with Dagster imported and the job built instead of building both again.

`package-builder build` starts a per-package run's process with `PACKAGE_BUILDER_RUN_JOB` (the job's
reconstructable arguments as JSON: config without secrets, translator, graph file), and the
forkserver inherits it. It is read and removed here, so no step process or package command sees it.
Without it (a run started from the UI) only the modules are imported. A failure here is left to the
step process, which builds the job itself and reports the error where it belongs.
"""

from __future__ import annotations

import json
import os

RUN_JOB_ENV = "PACKAGE_BUILDER_RUN_JOB"  # secret_env.RUN_JOB_ENV, named here: it is removed before any import


def preload_run_job() -> None:
    """Build the job `PACKAGE_BUILDER_RUN_JOB` names, if any (never raises: the forkserver must start).
    The variable is removed before anything else is imported, so it is gone even if that fails."""
    text = os.environ.pop(RUN_JOB_ENV, None)
    try:
        from package_builder_dagster.orchestration.definitions import job_from_args

        if text:
            job_from_args(**json.loads(text))
    except Exception:  # noqa: BLE001 - the step process builds it again and reports what went wrong
        pass


preload_run_job()
