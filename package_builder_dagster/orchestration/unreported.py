"""Runs launched by `build` whose reports are not written yet: a marker per run under the Dagster home,
written when the run starts and removed once its reports are. A marker left behind (the CLI was
killed, or crashed) tells the next command (`build`, `report`) to write that run's reports first.
No Dagster here: checking for markers costs a directory listing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from package_builder_dagster.files import write_json_atomic


@dataclass
class Unreported:
    """A run started by a `build` process (`pid`) in its run process (`run_pid`)."""

    run_id: str
    pid: int
    run_pid: int


def _folder(dagster_home: Path) -> Path:
    return dagster_home / "package-builder" / "unreported"


def mark_unreported(dagster_home: Path, run_id: str, pid: int, run_pid: int) -> None:
    """Record that run `run_id` (built by process `pid`, run by `run_pid`) has no reports yet."""
    write_json_atomic(_folder(dagster_home) / f"{run_id}.json", {"runId": run_id, "pid": pid, "runPid": run_pid})


def clear_unreported(dagster_home: Path, run_id: str) -> None:
    """Run `run_id`'s reports are written."""
    (_folder(dagster_home) / f"{run_id}.json").unlink(missing_ok=True)


def unreported_runs(dagster_home: Path) -> list[Unreported]:
    """The runs whose reports are not written, oldest marker first."""
    found = []
    for path in sorted(_folder(dagster_home).glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            data = json.loads(path.read_text())
            found.append(Unreported(str(data["runId"]), int(data["pid"]), int(data["runPid"])))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing to act on
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all there is
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
