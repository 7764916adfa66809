"""`package-builder ui` stops, with everything it started, however it was started and stopped:
SIGTERM, SIGINT (even with SIGINT inherited as ignored), SIGKILL of the ui process; a busy port
is refused before anything starts. Real processes, no mocks."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import REPO
from processes import alive, descendants, free_port, within

from package_builder_dagster.examples import PackageSpec, generate

STOP_SECONDS = 35  # the promise: every process gone and the port free this soon after the signal


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """One trivial package, shared by the tests (each ui uses the same instance, one at a time)."""
    return generate(tmp_path_factory.mktemp("ui-stop") / "ws", [PackageSpec("a", "core")], kind="trivial")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the webserver binds
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _marked(marker: str) -> set[int]:
    """The live (not zombie) processes whose environment carries `marker`: the ui and everything
    below it, wherever they were reparented and whatever session they moved to."""
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (proc / "environ").read_bytes() and alive(int(proc.name)):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def _commands(pids: set[int]) -> dict[int, str]:
    """The start of each process's command line, for messages."""
    found = {}
    for pid in pids:
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:100].decode(errors="replace")
        except OSError:
            continue
    return found


def _answers_http(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/server_info")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def _start_ui(root: Path, port: int, marker: str, log: Path, ignore_sigint: bool = False) -> subprocess.Popen:
    """`package-builder ui` in a session of its own, as `setsid package-builder ui &` from a script
    (`ignore_sigint`: with SIGINT ignored, as a shell starts a background job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env["UI_STOP_TEST"] = marker
    with open(log, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "package_builder_dagster.cli", "ui", "-w", str(root), "--port", str(port)],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
        )


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stops(workspace: Path, tmp_path: Path, signum: int, ignore_sigint: bool) -> None:
    """Start a ui, wait for its page, send `signum` to the ui process; assert that within
    STOP_SECONDS no process it started runs and its port is free."""
    port, marker, log = free_port(), uuid.uuid4().hex, tmp_path / "ui.log"
    ui = _start_ui(workspace, port, marker, log, ignore_sigint)
    try:
        assert within(lambda: ui.poll() is not None or _answers_http(port), 120, poll=0.2), f"no UI on port {port}"
        assert ui.poll() is None, f"ui exited {ui.returncode}:\n{log.read_text()}"
        started = descendants(ui.pid) | _marked(marker)
        assert len(started) >= 5, f"expected ui, dagster dev, webserver, daemon, code server: {started}"
        sent = time.monotonic()
        ui.send_signal(signum)
        def left() -> set[int]:
            return {pid for pid in started if alive(pid)} | _marked(marker)
        gone = within(lambda: not left() and _port_free(port), STOP_SECONDS, poll=0.2)
        assert gone, f"{signal.Signals(signum).name}: after {STOP_SECONDS} s still running: {_commands(left())}, port free: {_port_free(port)}"
        print(f"{signal.Signals(signum).name}: all gone in {time.monotonic() - sent:.1f} s")
    finally:
        _kill(_marked(marker))
        ui.wait(timeout=10)


def test_sigterm_stops_everything_when_started_as_a_background_job(workspace, tmp_path):
    _stops(workspace, tmp_path, signal.SIGTERM, ignore_sigint=True)


def test_sigint_stops_everything_when_started_with_sigint_ignored(workspace, tmp_path):
    _stops(workspace, tmp_path, signal.SIGINT, ignore_sigint=True)


def test_sigkill_of_ui_takes_everything_with_it(workspace, tmp_path):
    _stops(workspace, tmp_path, signal.SIGKILL, ignore_sigint=False)


def test_busy_port_is_refused_before_anything_starts(workspace, tmp_path):
    marker = uuid.uuid4().hex
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ui = _start_ui(workspace, port, marker, tmp_path / "ui.log")
        try:
            code = ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        try:
            output = (tmp_path / "ui.log").read_text()
            assert code == 2, f"exit {code}, still running: {sorted(_marked(marker))}\n{output}"
            lines = output.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"package-builder: port {port} on 127.0.0.1 is in use"), output
            assert not _marked(marker)
        finally:
            _kill(_marked(marker))
