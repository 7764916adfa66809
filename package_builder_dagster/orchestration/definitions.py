"""The one factory that builds the Dagster `Definitions` for a workspace.

`dagster dev -w workspace.yaml` loads `defs` from here; it reads PACKAGE_BUILDER_CONFIG and
PACKAGE_BUILDER_WORKSPACE (and the other PACKAGE_BUILDER_* variables) from the environment.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import dagster as dg

from package_builder_dagster.discovery.config import ENV_KEYS, BuildConfig, load_config
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.discovery.graph_file import load_graph, save_graph
from package_builder_dagster.discovery.workspace import discover_for
from package_builder_dagster.distributed.choice import executor_for
from package_builder_dagster.errors import UsageError
from package_builder_dagster.orchestration.assets import build_package_assets, build_suite_assets
from package_builder_dagster.orchestration.resource import PackageBuilderResource
from package_builder_dagster.orchestration.sensors import build_change_sensors, build_report_sensors
from package_builder_dagster.orchestration.translator import PackageTranslator
from package_builder_dagster.secret_env import RUN_JOB_ENV

JOB_NAME = "build_packages"
STEP_PRELOAD = "package_builder_dagster.orchestration.step_preload"


def build_definitions(
    config: BuildConfig, graph: WorkspaceGraph | None = None, translator: PackageTranslator | None = None,
    preload_run_job: bool = False,
) -> dg.Definitions:
    """Package assets (with their quality checks), suite verification, suite summary and the job.
    `preload_run_job`: the definitions of a run `package-builder build` starts, whose per-package
    steps fork from a forkserver that builds the job once (step_preload.py); otherwise Dagster's
    default preload (the job's own module, a Component project's included)."""
    graph = graph or discover_for(config)
    translator = translator or PackageTranslator()
    if config.dagster.grouping == "all":
        executor: dg.ExecutorDefinition = dg.in_process_executor
    else:
        forkserver = {"forkserver": {"preload_modules": [STEP_PRELOAD]} if preload_run_job else {}}
        executor = dg.multiprocess_executor.configured({"max_concurrent": config.maxConcurrentBuilds, "start_method": forkserver})
    executor = executor_for(config) or executor  # dagster.executor: celery workers (distributed/choice.py)
    _check_output_names(graph, translator)
    assets = [*build_package_assets(config, graph, translator), *build_suite_assets(config, graph, translator)]
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        description=f"Build every package of {graph.root.name} in dependency order, then verify and summarize.",
        tags={"package-builder/workspace": str(graph.root)[-63:].replace("/", "_")},
    )
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        sensors=[*build_report_sensors(config, graph, translator, job), *build_change_sensors(graph, translator, job)],
        executor=executor,
        resources={"package_builder": PackageBuilderResource.for_config(config)},
    )


def _check_output_names(graph: WorkspaceGraph, translator: PackageTranslator) -> None:
    """Dagster names each asset's output after its key (`-` and `.` become `_`): two packages whose keys
    give one name, or a key that gives no valid name, are bad input, not a Dagster traceback."""
    seen: dict[str, str] = {}
    for pkg in graph:
        output = translator.get_asset_key(pkg).to_python_identifier()
        if not re.fullmatch(r"[A-Za-z0-9_]+", output):
            raise UsageError(f"package {pkg.name} ({pkg.path}): its asset key gives {output!r}, not a valid Dagster name")
        if output in seen:
            raise UsageError(f"packages {seen[output]} and {pkg.name} ({pkg.path}) would share the Dagster output {output!r}: "
                             "rename one, or give them distinct keys with a PackageTranslator")
        seen[output] = pkg.name


def translator_path(translator: PackageTranslator) -> str:
    """`module:Class` of a translator, so another process can make the same one."""
    return f"{type(translator).__module__}:{type(translator).__qualname__}"


def _translator(path: str) -> PackageTranslator:
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj()


_JOBS: OrderedDict[tuple[str, str, str | None], dg.JobDefinition] = OrderedDict()  # least recently used first
_JOBS_LOCK = threading.Lock()


def _job(config_json: str, translator: str, graph_file: str | None) -> dg.JobDefinition:
    key = (config_json, translator, graph_file)
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None:
            _JOBS.move_to_end(key)
            return job
    config = BuildConfig.model_validate(json.loads(config_json))
    graph = load_graph(graph_file, config.root) if graph_file else None  # None: not there, or another root
    job = build_definitions(config, graph, translator=_translator(translator), preload_run_job=True).resolve_job_def(JOB_NAME)
    _remember(key, job)
    return job


def _remember(key: tuple[str, str, str | None], job: dg.JobDefinition) -> None:
    with _JOBS_LOCK:
        _JOBS[key] = job
        _JOBS.move_to_end(key)
        while len(_JOBS) > 4:
            _JOBS.popitem(last=False)


def job_from_args(config: dict[str, Any], translator: str, graph_file: str | None = None) -> dg.JobDefinition:
    """The job for a portable config and a translator class path: what a run's process (this one, a
    step subprocess, another machine) builds from the run's own origin, with no environment.
    `graph_file`: the workspace as the run's creator discovered it (discovery/graph_file.py)."""
    return _job(*_job_key(config, translator, graph_file))


def _job_key(config: dict[str, Any], translator: str, graph_file: str | None) -> tuple[str, str, str | None]:
    """The job cache's key for a job's reconstructable arguments."""
    return json.dumps(config, sort_keys=True), translator, graph_file


def reconstructable_job(config: BuildConfig, translator: PackageTranslator, graph: WorkspaceGraph | None = None,
                        defs: dg.Definitions | None = None) -> Any:
    """The build job as a ReconstructableJob whose arguments are the config, the translator and,
    when given, the file of the discovered `graph` (so no process of the run discovers it again).
    `defs`: the definitions the caller built from this config, translator and graph; this process
    (and a fork of it) then takes the job from them instead of building it again."""
    kwargs: dict[str, Any] = {"config": config.portable(), "translator": translator_path(translator)}
    if graph is not None:
        kwargs["graph_file"] = str(save_graph(graph, config.dagster_home / "package-builder" / "graphs"))
    if defs is not None and BuildConfig.model_validate(kwargs["config"]) == config:  # a secret does not travel: build again
        _remember(_job_key(kwargs["config"], kwargs["translator"], kwargs.get("graph_file")), defs.resolve_job_def(JOB_NAME))
    return dg.build_reconstructable_job(__name__, job_from_args.__name__, reconstructable_kwargs=kwargs)


def step_preload_env(config: BuildConfig, recon_job: Any) -> dict[str, str]:
    """The variable that lets the forkserver of a per-package run build its job once (step_preload.py),
    for the run's process only; none when the job's steps are not forked from one (not Dagster's
    multiprocess executor: grouping `all`, celery)."""
    if recon_job.get_definition().executor_def.name != dg.multiprocess_executor.name:
        return {}
    return {RUN_JOB_ENV: json.dumps(dict(recon_job.repository.pointer.reconstructable_kwargs))}


def _env_fingerprint() -> tuple[str | None, ...]:
    return tuple(os.environ.get(k) for k in ("PACKAGE_BUILDER_CONFIG", "DAGSTER_HOME", *ENV_KEYS))


@lru_cache(maxsize=4)
def _load(fingerprint: tuple[str | None, ...]) -> dg.Definitions:
    return build_definitions(load_config())


def load_from_env() -> dg.Definitions:
    """Definitions for the workspace the environment names (what `dagster dev` and run workers load)."""
    return _load(_env_fingerprint())


def package_job() -> dg.JobDefinition:
    """The job over the workspace the environment names (`dagster dev`'s entry point)."""
    return load_from_env().resolve_job_def(JOB_NAME)


def __getattr__(name: str) -> Any:  # `defs` is built on first access, not at import
    if name == "defs":
        return load_from_env()
    raise AttributeError(name)
