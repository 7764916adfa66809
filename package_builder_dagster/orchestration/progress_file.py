"""A run's live progress as JSON lines in its log folder (`<logs>/<run id>/progress.jsonl`).

The processes running a run's package steps on this machine append one line per package state
change (planning, restoring, building, testing, checking, fixing, publishing; then done, failed or
blocked); `package-builder build` follows the file to draw its progress. None of this goes through
Dagster's event log: Dagster keeps each package's record (its materialization or observation) and one
log line when it starts. Steps that run on other machines (celery workers) write their own files
there; the CLI then follows those packages through Dagster's events instead (cli/progress.py).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from package_builder_dagster.paths import inside

PROGRESS_FILE = "progress.jsonl"


def progress_path(logs_dir: Path, run_id: str) -> Path:
    return inside(logs_dir, run_id, PROGRESS_FILE)


class ProgressWriter:
    """Appends state changes, one JSON object per line; each line is one `write` on an O_APPEND file,
    so several step processes of one run can share the file."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def write(self, payload: dict[str, Any]) -> None:
        line = (json.dumps(payload, default=str) + "\n").encode()
        with self._lock:
            try:
                if self._fd is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.write(self._fd, line)
            except OSError:
                pass  # progress is a convenience: a full disk must not fail the build

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_progress(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The complete lines after byte `offset`, parsed, and the offset after the last of them."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
    states = []
    for raw in data[:end].splitlines():
        try:
            states.append(json.loads(raw))
        except ValueError:
            continue
    return states, offset + end
