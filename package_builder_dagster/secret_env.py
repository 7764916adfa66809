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
