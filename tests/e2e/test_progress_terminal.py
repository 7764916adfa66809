"""`build` in a real terminal: one clean progress bar, each state line printed above it, never glued
to a piece of the bar. The output is read through a pseudo-terminal and replayed on a terminal
emulator (pyte), so what is checked is what a person sees, scrolled-off lines included."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

import pyte
from conftest import REPO

from package_builder_dagster.examples import PackageSpec, generate

COLUMNS, LINES = 140, 30
BAR = re.compile(r"[━╺╸]")
STATE_LINE = re.compile(r"\d\d:\d\d:\d\d @ex/\S+\s+(planning|building|testing|checking|done|failed|blocked)")


def _run_on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 300) -> bytes:
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=REPO, close_fds=True)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except BlockingIOError:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
            continue
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(leader)
    return bytes(out)


def _screen_lines(raw: bytes) -> list[str]:
    screen = pyte.HistoryScreen(COLUMNS, LINES, history=10000, ratio=0.5)
    pyte.ByteStream(screen).feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    width = range(COLUMNS)
    scrolled = ["".join(line[x].data for x in width).rstrip() for line in screen.history.top]
    return scrolled + [line.rstrip() for line in screen.display]


def test_state_lines_never_share_a_line_with_the_progress_bar(tmp_path):
    specs = [PackageSpec("a", "core", sleep_ms=400), PackageSpec("b", "utility", ["a"], sleep_ms=400),
             PackageSpec("c", "utility", ["a"], sleep_ms=400), PackageSpec("d", "service", ["b", "c"], sleep_ms=400),
             PackageSpec("e", "service", ["b"], sleep_ms=400), PackageSpec("f", "service", ["c"], sleep_ms=400)]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env.update({"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)})
    raw = _run_on_a_terminal([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root),
                              "--concurrency", "2"], env)
    lines = _screen_lines(raw)
    text = "\n".join(lines)
    assert "6 succeeded" in text, text[-3000:]
    assert BAR.search(raw.decode(errors="replace")), "no progress bar was drawn"
    states = [line for line in lines if STATE_LINE.search(line)]
    assert sum(" done " in f"{line} " for line in states) == 6, text
    glued = [line for line in lines if BAR.search(line) and (STATE_LINE.search(line) or "@ex/" in line)]
    assert not glued, "state lines glued to the progress bar:\n" + "\n".join(glued)
    for line in states:  # each state line starts at the left edge: nothing was written before it on its row
        assert re.match(r"^\d\d:\d\d:\d\d @ex/", line), line
