"""A real npm registry for tests: Verdaccio 6.8.0 from the toolchain on 127.0.0.1, and a small
HTTP proxy in front of it that can answer chosen requests with an error (to make failures real)."""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

VERDACCIO_CONFIG = """\
storage: {storage}
auth:
  htpasswd:
    file: {htpasswd}
    max_users: 100
uplinks: {{}}
packages:
  '@*/*':
    access: $all
    publish: $authenticated
  '**':
    access: $all
    publish: $authenticated
max_body_size: 50mb
log: {{ type: stdout, format: pretty, level: warn }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Verdaccio:
    """A running Verdaccio with one user; `token` is that user's npm token."""

    url: str
    token: str
    proc: subprocess.Popen
    log: Path

    def packument(self, name: str) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + name.replace("/", "%2f"), timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def versions(self, name: str) -> list[str]:
        doc = self.packument(name)
        return sorted((doc or {}).get("versions", {}))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_verdaccio(toolchain: Path, folder: Path) -> Verdaccio:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(VERDACCIO_CONFIG.format(storage=folder / "storage", htpasswd=folder / "htpasswd"))
    port = free_port()
    log = folder / "verdaccio.log"
    proc = subprocess.Popen(
        [str(toolchain / "node_modules" / ".bin" / "verdaccio"), "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=folder,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "-/ping", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"verdaccio did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    request = urllib.request.Request(
        url + "-/user/org.couchdb.user:tester", method="PUT",
        data=json.dumps({"name": "tester", "password": "correct-horse-battery"}).encode(),
        headers={"content-type": "application/json"},
    )
    token = json.load(urllib.request.urlopen(request, timeout=10))["token"]
    return Verdaccio(url, token, proc, log)


@dataclass
class FaultyProxy:
    """Forwards to `upstream`; `faults[(method, package)]` lists the answers to give in turn (the last
    one repeats): an HTTP status to answer with, or 0 to forward the request."""

    upstream: str
    faults: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    seen: list[tuple[str, str, int]] = field(default_factory=list)  # (method, package, status answered)
    url: str = ""

    def count(self, method: str, package: str) -> int:
        return sum(1 for m, p, _ in self.seen if m == method and p == package)

    def start(self) -> "FaultyProxy":
        proxy = self
        host, port = self.upstream.split("//")[1].rstrip("/").split(":")

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                package = unquote(self.path.lstrip("/").split("/-/")[0]).split("?")[0]
                queue = proxy.faults.get((self.command, package))
                status = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else 0
                if status:
                    proxy.seen.append((self.command, package, status))
                    message = json.dumps({"error": f"injected {status} by the test proxy"}).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy.seen.append((self.command, package, resp.status))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
