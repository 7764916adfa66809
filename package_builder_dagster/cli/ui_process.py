"""The processes of `package-builder ui`: dagster dev and everything it starts, stopped together.

dagster dev runs in a session and process group of its own, with its webserver, daemon, code server
and gRPC server. Stopping it: SIGTERM to dagster dev alone, which shuts its services down in order
(signalling the whole group would stop the code server under it, and dagster dev restarts a code
server that exits); once dagster dev has exited, or after the grace time, SIGKILL to whatever of
the group is left. That happens when

- `ui` gets SIGINT or SIGTERM: the handler raises, so the wait for dagster dev ends at once (a
  handler that returns would let the wait resume, PEP 475);
- `ui` dies any other way, SIGKILL included: a watchdog, a small process running this file,
  reads a pipe until end of file. Its write ends are `ui`'s and, until exec, dagster dev's, which
  writes its pid (the group's id) there first thing; so the watchdog knows the group even if `ui`
  dies a moment after the fork, and sees end of file only once `ui` is gone, however it went.
  Then it stops the group as above.

dagster dev starts with SIGINT and SIGTERM at their defaults: a background job inherits SIGINT as
ignored, and dagster dev maps SIGTERM onto its SIGINT handler, so it would ignore both.

Only the standard library here: the watchdog runs this file with `python -I`.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(Exception):
    """A SIGINT or SIGTERM arrived."""


def port_in_use(host: str, port: int) -> bool:
    """Whether `port` on `host` is taken, tried as the webserver binds (SO_REUSEADDR: TIME_WAIT is no use)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def run_until_signalled(argv: list[str], grace_seconds: float = 30) -> int:
    """Run `argv` (dagster dev) until it exits or SIGINT/SIGTERM arrives; nothing of its group outlives this call."""
    previous = {s: signal.signal(s, _raise_stop) for s in STOP_SIGNALS}
    watchdog: subprocess.Popen | None = None
    proc: subprocess.Popen | None = None
    try:
        watchdog, alarm = _start_watchdog(grace_seconds)
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=lambda: _child_setup(alarm))
        return proc.wait()
    except _Stop:
        return 0
    finally:
        for s in STOP_SIGNALS:  # the stop below is bounded: let it finish
            signal.signal(s, signal.SIG_IGN)
        if proc is not None:
            stop_group(proc.pid, grace_seconds)
            proc.wait()
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
            os.close(alarm)
        for s, handler in previous.items():
            signal.signal(s, handler)


def stop_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM to the group's leader `pgid`; once it has gone, or after `grace_seconds`, SIGKILL to the group."""
    try:
        os.kill(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    _wait_until(lambda: not _running(pgid), grace_seconds)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_until(lambda: not _running(pgid, group=True), 5)


def _running(pid: int, group: bool = False) -> bool:
    """Whether process `pid` (or a process of group `pid`) runs; zombies, left to whoever reaps them, don't."""
    if not Path("/proc/self/stat").exists():  # no /proc: zombies count
        try:
            (os.killpg if group else os.kill)(pid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in Path("/proc").glob("[0-9]*/stat") if group else [Path(f"/proc/{pid}/stat")]:
        try:
            state, _ppid, pgid = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue
        if state != "Z" and (not group or int(pgid) == pid):
            return True
    return False


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll `condition` until it holds or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


def _raise_stop(_signum: int, _frame: object) -> None:
    """The SIGINT/SIGTERM handler of `ui`: ends the wait for dagster dev."""
    raise _Stop


def _child_setup(alarm: int) -> None:
    """In dagster dev before exec: SIGINT and SIGTERM at their defaults; its pid to the watchdog."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_DFL)
    os.write(alarm, b"%d\n" % os.getpid())


def _start_watchdog(grace_seconds: float) -> tuple[subprocess.Popen, int]:
    """(watchdog, write end of its pipe): the watchdog stops the group written there once every write end is closed."""
    read_end, write_end = os.pipe()  # not inheritable: closed on exec in any child
    try:
        watchdog = subprocess.Popen([sys.executable, "-I", __file__, str(read_end), str(grace_seconds)],
                                    pass_fds=[read_end], start_new_session=True, stdin=subprocess.DEVNULL)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return watchdog, write_end


def _watch(fd: int, grace_seconds: float) -> None:
    """The watchdog's body: read the group's id until end of file (`ui` is gone), then stop the group."""
    with os.fdopen(fd, "rb") as pipe:
        pgid = pipe.read().strip()
    if pgid:
        stop_group(int(pgid), grace_seconds)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), float(sys.argv[2]))
