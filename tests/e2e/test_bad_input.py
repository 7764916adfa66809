"""Issue 20, points 6 and 7: bad input and faults end in one line (exit 2 or 1), never a traceback;
no input destroys or silently accepts what it should not."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO
from unit.test_bad_input import _one_line, _workspace

from package_builder_dagster.orchestration.instance import sqlite_yaml


def _run_build(workspace: Path, home: Path, preexec: Callable[[], None] | None) -> subprocess.CompletedProcess:
    """`package-builder build` in a fresh process, `preexec` run in the child before it starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env.update({"DAGSTER_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO),
                "XDG_CACHE_HOME": str(workspace.parent / "xdg"), "HOME": str(workspace.parent)})
    return subprocess.run([sys.executable, "-m", "package_builder_dagster.cli", "build", "-w", str(workspace)],
                          capture_output=True, text=True, env=env, preexec_fn=preexec, timeout=120, cwd=workspace)


# ---- 6: one line instead of a traceback -------------------------------------------------------

def _without_dac_override() -> None:
    """In the child, before exec: drop root's right to ignore file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)
    from the bounding set, so the exec'd CLI, still root, is refused a folder without write permission."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_read_only_dagster_home_is_one_line_exit_2(tmp_path):
    """A Dagster home the user cannot write (its dagster.yaml already there): `build.lock` cannot be opened."""
    workspace = _workspace(tmp_path / "ws")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(sqlite_yaml(home))
    home.chmod(0o555)
    try:
        proc = _run_build(workspace, home, _without_dac_override if os.geteuid() == 0 else None)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {exc}")
    finally:
        home.chmod(0o755)
    line = _one_line(proc.stderr)
    assert proc.returncode == 2, proc.stderr
    assert line == f"package-builder: Permission denied: {home / 'build.lock'}", line


def test_full_disk_during_storage_setup_is_one_line_exit_1(tmp_path):
    """Writes past a small size fail (RLIMIT_FSIZE, as a full disk would): SQLite storage cannot be created."""
    workspace = _workspace(tmp_path / "ws")
    home = tmp_path / "home"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    proc = _run_build(workspace, home, limit)
    line = _one_line(proc.stderr)
    assert proc.returncode == 1, proc.stderr
    assert line.startswith("package-builder: ") and str(home) in line and "disk" in line


# ---- 7: destructive or silent inputs ------------------------------------------------------------
