"""A local npm registry (Verdaccio from the Node toolchain) on 127.0.0.1, for the demo and the tests.

`python -m package_builder_dagster.local_registry STORAGE -- COMMAND...` starts Verdaccio with its
storage in STORAGE (kept between runs), logs in a local user, runs COMMAND with `NPM_TOKEN` and
`PACKAGE_BUILDER_REGISTRY` set in its environment, then stops Verdaccio. The token is never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from package_builder_dagster import http

CONFIG = """\
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
USER = "package-builder"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_verdaccio() -> str:
    here = Path(__file__).resolve().parent.parent / "toolchain" / "node_modules" / ".bin" / "verdaccio"
    found = str(here) if here.exists() else shutil.which("verdaccio")
    if not found:
        raise FileNotFoundError("missing tool: verdaccio (install the toolchain: npm ci in toolchain/)")
    return found


@dataclass
class LocalRegistry:
    """A running Verdaccio; `token` is the local user's npm token."""

    url: str
    token: str = field(repr=False)  # a secret: never in a repr, a log or a failure message
    proc: subprocess.Popen
    log: Path
    session: requests.Session = field(default_factory=http.session, repr=False)

    def packument(self, name: str) -> dict | None:
        response = self.session.get(self.url + name.replace("/", "%2f"), timeout=10)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def versions(self, name: str) -> list[str]:
        return sorted((self.packument(name) or {}).get("versions", {}))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _login(session: requests.Session, url: str, password: str) -> str:
    """Create the local user (or, when it exists, log it in) and return its token."""
    body = json.dumps({"name": USER, "password": password}).encode()
    headers = {"content-type": "application/json"}
    target = url + f"-/user/org.couchdb.user:{USER}"
    response = session.put(target, data=body, headers=headers, timeout=10)
    if response.status_code == 409:
        response = session.put(target, data=body, headers=headers, auth=(USER, password), timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def start(folder: Path, port: int | None = None, timeout: float = 60) -> LocalRegistry:
    """Start Verdaccio with its config, storage and users in `folder`."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(storage=folder / "storage", htpasswd=folder / "htpasswd"))
    secret_file = folder / "local-user-password"
    if not secret_file.exists():
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    port = port or free_port()
    log = folder / "verdaccio.log"
    proc = subprocess.Popen(
        [find_verdaccio(), "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder,
    )
    url = f"http://127.0.0.1:{port}/"
    session = http.session()
    deadline = time.monotonic() + timeout
    while True:
        try:
            session.get(url + "-/ping", timeout=2).raise_for_status()
            break
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"verdaccio did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    try:
        token = _login(session, url, secret_file.read_text().strip())
    except Exception:
        proc.kill()
        raise
    return LocalRegistry(url, token, proc, log, session)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m package_builder_dagster.local_registry STORAGE -- COMMAND...", file=sys.stderr)
        return 2
    registry = start(Path(argv[0]))
    print(f"local registry: Verdaccio on {registry.url} (storage {Path(argv[0]).resolve()})", file=sys.stderr)
    try:
        env = {**os.environ, "NPM_TOKEN": registry.token, "PACKAGE_BUILDER_REGISTRY": registry.url}
        return subprocess.run(argv[2:], env=env).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        registry.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
