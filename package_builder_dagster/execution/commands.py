"""Running commands safely: every command is an argument list (never a shell string), in its own
process group, with a timeout that kills the whole group, and its full output saved to a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_TAIL_LINES = 40


@dataclass
class CommandResult:
    argv: list[str]
    exit_code: int | None
    duration_ms: int
    log_path: Path
    tail: str
    timed_out: bool = False
    cancelled: bool = False
    missing_tool: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def read_output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return self.tail


def tail_of(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class CommandRunner:
    """Runs argument lists with a timeout; `cancel()` kills every running process group."""

    timeout_seconds: float
    base_env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # strings masked as *** in every log this runner writes
    hidden_env: tuple[str, ...] = ("NPM_TOKEN", "NODE_AUTH_TOKEN")  # variables commands never get (secret_env)
    _running: set[subprocess.Popen[bytes]] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _cancelled: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in self.hidden_env}
        env.update({"CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1", "npm_config_update_notifier": "false"})
        env.update(self.base_env)
        env.update(extra or {})
        return env

    def run(
        self,
        argv: list[str],
        cwd: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        if self._cancelled.is_set():
            return CommandResult(argv, None, 0, log_path, "cancelled before start", cancelled=True)
        with open(log_path, "wb") as log:
            log.write(("$ " + " ".join(argv) + f"\n# in {cwd}\n").encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=self.env(env), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except FileNotFoundError:
                msg = f"missing tool: {argv[0]} is not installed or not on PATH"
                log.write((msg + "\n").encode())
                return CommandResult(argv, None, 0, log_path, msg, missing_tool=argv[0])
            with self._lock:
                self._running.add(proc)
            timed_out = False
            try:
                proc.wait(timeout=timeout or self.timeout_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                proc.wait()
            finally:
                with self._lock:
                    self._running.discard(proc)
            # Whatever the command left running in its group (watchers, workers) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if timed_out:
                log.write(f"\n# killed after {timeout or self.timeout_seconds:.0f} s timeout\n".encode())
        duration = int((time.monotonic() - start) * 1000)
        text = log_path.read_text(errors="replace")
        if any(s and s in text for s in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***") if secret else text
            log_path.write_text(text)
        return CommandResult(
            argv, proc.returncode, duration, log_path, tail_of(text),
            timed_out=timed_out, cancelled=self._cancelled.is_set(),
        )

    def cancel(self) -> None:
        """Kill every running command's process group; later `run` calls return at once."""
        self._cancelled.set()
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc, grace=1.0)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()
