"""Cache servers for tests: the real turborepo-remote-cache (Node), and a tiny always-failing HTTP server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

SERVER_PACKAGE = "turborepo-remote-cache"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where connections are refused (a server that is down)."""
    return f"http://127.0.0.1:{free_port()}"


def server_entry(toolchain_dir: Path) -> Path:
    """turborepo-remote-cache's start script (its package.json `bin`) in the toolchain."""
    return Path(toolchain_dir) / "node_modules" / SERVER_PACKAGE / "dist" / "cli.js"


class CacheServer:
    """turborepo-remote-cache on 127.0.0.1 with local storage in `storage_dir` and one static token."""

    def __init__(self, toolchain_dir: Path, storage_dir: Path, token: str, signatures: bool = False):
        self.toolchain_dir = Path(toolchain_dir)
        self.storage_dir = Path(storage_dir)
        self.token = token
        self.signatures = signatures  # the server keeps x-artifact-tag headers only when this is on
        self.port = free_port()
        self.log_path = self.storage_dir.parent / f"{self.storage_dir.name}-server.log"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["node", str(server_entry(self.toolchain_dir))]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TURBO_", "S3_", "GCS_", "ABS_"))}
        env.update({
            "HOST": "127.0.0.1", "PORT": str(self.port), "TURBO_TOKEN": self.token,
            "STORAGE_PROVIDER": "local", "STORAGE_PATH": str(self.storage_dir),
            "STORAGE_PATH_USE_TMP_FOLDER": "false", "NODE_ENV": "production", "LOG_LEVEL": "warn",
        })
        if self.signatures:
            # The server never checks tags; with a key set it stores and serves them (and 404s untagged artifacts).
            env["TURBO_REMOTE_CACHE_SIGNATURE_KEY"] = "server-side-unused"
        return env

    def start(self, timeout: float = 20.0) -> CacheServer:
        """Start the server and wait until it answers HTTP."""
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command(), env=self.environment(), stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{SERVER_PACKAGE} exited with {self._process.returncode}: {self.log_tail()}")
            try:
                requests.get(f"{self.url}/v8/artifacts/status", timeout=1,
                             headers={"Authorization": f"Bearer {self.token}"})
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{SERVER_PACKAGE} did not answer on {self.url} within {timeout:g}s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (its whole process group)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def artifact_path(self, key: str, team: str) -> Path:
        """Where the server keeps the artifact `key` of `team` (slug or teamId) on disk."""
        return self.storage_dir / team / key

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> CacheServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FailingServer:
    """An HTTP server answering `status` (503 by default) to everything, after `delay` seconds; counts requests."""

    def __init__(self, status: int = 503, delay: float = 0.0):
        self.status = status
        self.delay = delay
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if server.delay:
                    time.sleep(server.delay)
                body = b'{"message":"unavailable"}'
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout)

            do_GET = do_PUT = do_HEAD = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FailingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
