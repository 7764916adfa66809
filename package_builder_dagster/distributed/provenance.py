"""Where a package ran, for its materialization metadata: host, pid and working copy (only when the
config has a distributed executor; nothing changes otherwise)."""

from __future__ import annotations

import os
import socket
from typing import Any

from package_builder_dagster.discovery.config import BuildConfig


def worker_metadata(config: BuildConfig) -> dict[str, Any]:
    """{"worker_host", "worker_pid", "working_copy"} on a distributed run's worker; {} otherwise."""
    if config.dagster.executor is None:
        return {}
    return {"worker_host": socket.gethostname(), "worker_pid": os.getpid(), "working_copy": str(config.root)}
