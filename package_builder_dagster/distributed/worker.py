"""`package-builder worker`: a celery worker that runs a workspace's package steps in its own clone.

dagster-celery's task runs the step; before it, `PreparedStepTask` reads the run's commit (a run
tag), brings the clone to it (checkout, frozen install once, the dependencies' outputs restored from
the artifact store), and points the run's job at the clone instead of the orchestrator's folder.
Pool processes are reused across tasks; the definitions they cache are keyed by commit (see
`retarget`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from celery import Task
from dagster import DagsterInstance
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task
from dagster_shared.serdes import unpack_value

from package_builder_dagster.discovery.config import BuildConfig, load_config
from package_builder_dagster.discovery.workspace import discover_for
from package_builder_dagster.distributed.celery_settings import QUEUE, app_settings
from package_builder_dagster.distributed.source_tree import COMMIT_TAG
from package_builder_dagster.distributed.working_copy import WorkingCopy, restore_dependencies
from package_builder_dagster.errors import UsageError
from package_builder_dagster.orchestration.dagster_private import ExecuteStepArgs, NodeHandle, ReconstructableJob
from package_builder_dagster.orchestration.instance import use_psycopg2

log = logging.getLogger("package_builder.worker")


def rebase(value: Any, old_root: str, new_root: str) -> Any:
    """`value` (JSON data) with every path under `old_root` moved under `new_root`."""
    if isinstance(value, str) and (value == old_root or value.startswith(old_root.rstrip("/") + "/")):
        return new_root + value[len(old_root):]
    if isinstance(value, list):
        return [rebase(v, old_root, new_root) for v in value]
    if isinstance(value, dict):
        return {k: rebase(v, old_root, new_root) for k, v in value.items()}
    return value


def retarget(executable: dict[str, Any], copy: WorkingCopy, commit: str) -> dict[str, Any]:
    """The run's job (ReconstructableJob.to_dict) with its config's paths in `copy`, its local
    artifact store the clone's own, and `dagster.home` a per-commit folder of the clone's state.
    A worker loads the instance from the task, so nothing is written to that home; it makes the
    config, and so the definitions a pool process caches for it, differ from one commit to the
    next: a process never reuses definitions (code versions, cache keys) of another commit.
    A job without a config argument (a code location) is kept: the worker's
    PACKAGE_BUILDER_WORKSPACE / PACKAGE_BUILDER_CONFIG name the clone for it."""
    pointer = executable.get("repository", {}).get("pointer", {})
    kwargs = pointer.get("reconstructable_kwargs") or []
    for pair in kwargs:
        if pair[0] == "config" and isinstance(pair[1], dict) and pair[1].get("workspaceRoot"):
            config = rebase(pair[1], pair[1]["workspaceRoot"], str(copy.root))
            config.setdefault("cache", {}).setdefault("local", {})["dir"] = str(copy.artifacts_dir)
            config.setdefault("dagster", {})["home"] = str(copy.state / "dagster-home" / commit)
            pair[1] = config
    return executable


def job_config(executable: dict[str, Any]) -> BuildConfig | None:
    """The BuildConfig a retargeted job carries, if it carries one."""
    for name, value in executable.get("repository", {}).get("pointer", {}).get("reconstructable_kwargs") or []:
        if name == "config":
            return BuildConfig.model_validate(value)
    return None


def step_packages(recon_job: ReconstructableJob, step_key: str) -> set[str] | None:
    """The packages a step builds (from its assets' `package_name` metadata); None for a step that
    is not a package step (suite verification and summary need every package's outputs)."""
    assets_def = recon_job.get_definition().asset_layer.get_assets_def_for_node(NodeHandle(step_key, None))
    names = {str(spec.metadata["package_name"]) for spec in assets_def.specs if "package_name" in spec.metadata}
    return names or None


class PreparedStepTask(Task):
    """dagster-celery's execute_plan task, run after the clone is prepared for the step."""

    copy: WorkingCopy  # set by make_worker_app
    config: BuildConfig

    def __call__(self, execute_step_args_packed: dict[str, Any], executable_dict: dict[str, Any]) -> Any:
        started = time.monotonic()
        args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
        with DagsterInstance.from_ref(args.instance_ref) as instance:
            run = instance.get_run_by_id(args.run_id)
        if run is not None and run.is_finished:  # a task delivered late (revoked while no worker was up)
            log.warning("%s: run %s has ended (%s): not run", ",".join(args.step_keys_to_execute), args.run_id, run.status.value)
            return []
        commit = run.tags.get(COMMIT_TAG) if run else None
        if not commit:
            raise UsageError(f"run {args.run_id} has no {COMMIT_TAG} tag: it was not started by a distributed build")
        executable = retarget(json.loads(json.dumps(executable_dict)), self.copy, commit)
        config = job_config(executable) or self.config
        with self.copy.locked():
            moved = self.copy.checkout(commit)
            installed = self.copy.install(timeout=config.commandTimeoutSeconds)
            recon_job = ReconstructableJob.from_dict(executable)
            graph = discover_for(config)
            restored = restore_dependencies(config, graph, step_packages(recon_job, args.step_keys_to_execute[0]), log.warning)
        log.info("%s in pid %d: commit %s%s in %s; %s; restored %d dependency output(s); ready in %.2f s",
                 ",".join(args.step_keys_to_execute), os.getpid(), commit[:12], " (checked out)" if moved else "",
                 self.copy.root, installed, len(restored), time.monotonic() - started)
        return super().__call__(execute_step_args_packed, executable)


def make_worker_app(config: BuildConfig, copy: WorkingCopy) -> Any:
    """The celery app of a worker: dagster-celery's, with the workspace's settings and the prepared task."""
    app = make_app()
    app.conf.update(app_settings(config))
    task_class = type("WorkspaceStepTask", (PreparedStepTask,), {"copy": copy, "config": config})
    create_task(app, base=task_class)
    return app


def run_worker(config_file: str | None, concurrency: int, checkout: str | None, name: str | None = None) -> int:
    """Start a worker for the config's workspace (or the clone `checkout`); returns when it stops."""
    config = load_config(config_file, workspace=checkout)
    if config.dagster.executor is None:
        raise UsageError("the config has no dagster.executor: nothing would send this worker work")
    postgres = config.dagster.storage.postgres
    if postgres is None:
        raise UsageError("a worker needs the run storage the orchestrator uses: set dagster.storage.postgres")
    if not os.environ.get(postgres.urlEnv):
        raise UsageError(f"dagster.storage.postgres.urlEnv names ${postgres.urlEnv}, which is not set")
    use_psycopg2(postgres.urlEnv)
    copy = WorkingCopy(config.root)
    # For runs whose job is a code location (definitions from the environment): this clone, this config.
    os.environ["PACKAGE_BUILDER_WORKSPACE"] = str(copy.root)
    if config.configFile:
        os.environ["PACKAGE_BUILDER_CONFIG"] = str(config.configFile)
    app = make_worker_app(config, copy)
    node = name or f"pb-{os.getpid()}"
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
                     "--prefetch-multiplier=1", f"--hostname={node}@{socket.gethostname()}", f"--queues={QUEUE}",
                     "--without-mingle", "--without-gossip"])
    return 0
