"""Real Redis and PostgreSQL servers on 127.0.0.1 for tests, as context managers (no pytest needed)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """A server's binary (or a way to drop root for it) is missing: tests should skip, not fail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_binary(name: str, extra_globs: tuple[str, ...] = ()) -> str:
    """The path of `name` on PATH or in `extra_globs`, else ServerUnavailable."""
    found = shutil.which(name) or max((p for g in extra_globs for p in glob.glob(g)), default=None)
    if not found:
        raise ServerUnavailable(f"{name} not found (production/scripts/install-servers.sh installs it)")
    return found


class RedisServer:
    """redis-server without persistence on a free port of 127.0.0.1, in its own temporary folder."""

    def __init__(self, timeout: float = 15.0):
        self.binary = find_binary("redis-server")
        self.port = free_port()
        self.timeout = timeout
        self.dir: Path | None = None
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        """True when the server answers PING with PONG."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> RedisServer:
        self.dir = Path(tempfile.mkdtemp(prefix="redis-"))
        log = (self.dir / "redis.log").open("ab")
        self._process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.timeout
        while not self.ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                self.__exit__()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}: {tail}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, fsync off) on a free port of 127.0.0.1, with one database."""

    PG_GLOBS = ("/usr/lib/postgresql/*/bin/{}",)

    def __init__(self, user: str = "dagster", database: str = "dagster", timeout: float = 60.0):
        self.initdb = find_binary("initdb", tuple(g.format("initdb") for g in self.PG_GLOBS))
        self.bindir = Path(self.initdb).resolve().parent  # pg_ctl and createdb of the same version
        self.user, self.database, self.timeout = user, database, timeout
        self.port = free_port()
        self.dir: Path | None = None
        self._as_user = self._unprivileged_prefix()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dagster_url(self) -> str:
        """The URL for dagster-postgres' `postgres_url`: SQLAlchemy >= 2.1 reads plain postgresql:// as psycopg 3."""
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)

    @staticmethod
    def _unprivileged_prefix() -> list[str]:
        """The command prefix that drops root to `nobody` (PostgreSQL refuses to run as root); empty if not root."""
        if os.geteuid() != 0:
            return []
        if shutil.which("runuser"):
            return ["runuser", "-u", "nobody", "--"]
        if shutil.which("setpriv"):
            return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        raise ServerUnavailable("running as root, and neither runuser nor setpriv is there to drop to `nobody`")

    def _run(self, *args: str) -> None:
        """Run a PostgreSQL tool as the cluster's owner, raising with its output if it fails."""
        done = subprocess.run([*self._as_user, *args], cwd=self.dir, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=self.timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def __enter__(self) -> PostgresServer:
        self.dir = Path(tempfile.mkdtemp(prefix="postgres-"))
        if self._as_user:  # the cluster's folder must be its owner's, and every parent must let it through
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        data = self.dir / "data"
        try:
            self._run(self.initdb, "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--no-instructions")
            options = f"-p {self.port} -h 127.0.0.1 -k {self.dir} -c fsync=off -c full_page_writes=off"
            self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "postgres.log"),
                      "-o", options, "-w", "-t", str(int(self.timeout)), "start")
            self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                      self.database)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.dir:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run([*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"),
                            "stop", "-m", "fast", "-w"], cwd=self.dir, capture_output=True, timeout=self.timeout)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
