"""The one place secrets are read: from the environment variables the config names, in the process
that runs the command needing them. Secrets never go into resource or run config (which Dagster
stores), metadata, logs or reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

from package_builder_dagster.discovery.config import BuildConfig

NPM_TOKEN_ENV = "NPM_TOKEN"


def npm_token(config: BuildConfig) -> str | None:
    """The npm token: $NPM_TOKEN, else `npmToken` of the config as loaded here, else its config file's."""
    if os.environ.get(NPM_TOKEN_ENV):
        return os.environ[NPM_TOKEN_ENV]
    if config.npmToken:
        return config.npmToken.get_secret_value()
    if config.configFile:
        try:
            token = json.loads(Path(config.configFile).read_text()).get("npmToken")
        except (OSError, ValueError, AttributeError):
            token = None
        if token:
            return str(token)
    return None


def remote_cache_token(config: BuildConfig) -> str | None:
    """The remote cache's bearer token, from the variable `cache.remote.tokenEnv` names."""
    return os.environ.get(config.cache.remote.tokenEnv) or None


def signature_key(config: BuildConfig) -> str | None:
    """The artifact signing key, from the variable `cache.remote.signatureKeyEnv` names (None: unsigned)."""
    name = config.cache.remote.signatureKeyEnv
    return (os.environ.get(name) or None) if name else None


RUN_JOB_ENV = "PACKAGE_BUILDER_RUN_JOB"  # the job a per-package run's forkserver builds (orchestration/step_preload.py)
# The run's own arguments: the instance reference, and the job above.
RUN_ARGS_ENV = ("DAGSTER_EXECUTE_RUN_ARGS", "DAGSTER_COMPRESSED_EXECUTE_RUN_ARGS", RUN_JOB_ENV)


def hidden_from_commands(config: BuildConfig) -> tuple[str, ...]:
    """The variables no package script, check or fix agent gets: the npm token, and every variable
    the config names for a secret (the cache's token and signing key, the PostgreSQL URL, broker and
    backend URLs), plus the run's own arguments."""
    names = [NPM_TOKEN_ENV, "NODE_AUTH_TOKEN", config.cache.remote.tokenEnv, config.cache.remote.signatureKeyEnv, *RUN_ARGS_ENV]
    if config.dagster.storage.postgres is not None:
        names.append(config.dagster.storage.postgres.urlEnv)
    if config.dagster.executor is not None:
        names += [config.dagster.executor.brokerEnv, config.dagster.executor.backendEnv]
    return tuple(dict.fromkeys(n for n in names if n))

