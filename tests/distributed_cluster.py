"""A real scale-out on 127.0.0.1 for tests and measurements: redis-server, PostgreSQL, the artifact
store's server, an origin repository (the orchestrator's tree) and `package-builder worker`
processes, each in its own clone. No pytest here."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cacheserver import CacheServer
from servers import PostgresServer, RedisServer

REPO = Path(__file__).resolve().parent.parent
PG_ENV = "PB_TEST_POSTGRES_URL"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def make_origin(root: Path, specs: list[Any]) -> Path:
    """A committed trivial npm workspace with its lockfile (workspace packages only: no network)."""
    from package_builder_dagster.examples import generate

    generate(root, specs, kind="trivial")
    subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root,
                   check=True, capture_output=True)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "workspace")
    return root


@dataclass
class Worker:
    name: str
    clone: Path
    process: subprocess.Popen
    log: Path

    def ready(self) -> bool:
        return " ready." in self.log.read_text(errors="replace")

    def pids(self) -> set[int]:
        """The worker's main process and its pool children."""
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): a lost machine."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """Servers, an origin repository, a config and workers; stops everything on exit."""

    tmp: Path
    toolchain: Path
    executor: dict[str, Any] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)
    workers: list[Worker] = field(default_factory=list)

    def __enter__(self) -> Cluster:
        try:
            self.redis = self.stack.enter_context(RedisServer())
            self.postgres = self.stack.enter_context(PostgresServer())
            self.token = secrets.token_hex(16)
            self.cache = self.stack.enter_context(CacheServer(self.toolchain, self.tmp / "store", self.token))
        except BaseException:
            self.stack.close()
            raise
        self.env = {**os.environ, PG_ENV: self.postgres.url, "TURBO_TOKEN": self.token, "PYTHONPATH": str(REPO),
                    "XDG_CACHE_HOME": str(self.tmp / "orchestrator-cache")}
        self.env = {k: v for k, v in self.env.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        self.stack.close()

    def write_config(self, origin: Path, concurrency: int = 2) -> Path:
        self.origin = origin
        config = {
            "workspaceRoot": str(origin), "maxConcurrentBuilds": concurrency,
            "testing": {"enableCoverage": False},
            "cache": {"remote": {"url": self.cache.url, "team": "team_scaleout"}},
            "dagster": {"home": str(self.tmp / "dagster-home"),
                        "executor": {"broker": self.redis.url, **self.executor},
                        "storage": {"postgres": {"urlEnv": PG_ENV}}},
        }
        self.config = self.tmp / "build-env.json"
        self.config.write_text(json.dumps(config, indent=2))
        return self.config

    def start_worker(self, name: str, concurrency: int = 1) -> Worker:
        clone = self.tmp / f"clone-{name}"
        if not clone.exists():
            subprocess.run(["git", "clone", "-q", str(self.origin), str(clone)], check=True, capture_output=True)
        log = self.tmp / f"worker-{name}.log"
        handle = log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "package_builder_dagster.cli", "worker", "--config", str(self.config),
             "--checkout", str(clone), "--name", name, "--concurrency", str(concurrency)],
            env={**self.env, "XDG_CACHE_HOME": str(self.tmp / f"cache-{name}")}, stdout=handle,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.tmp)
        handle.close()
        worker = Worker(name, clone, process, log)
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not all(w.ready() for w in self.workers):
            for w in self.workers:
                if w.process.poll() is not None:
                    raise RuntimeError(f"worker {w.name} exited: {w.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("workers not ready: " + " | ".join(w.log.read_text()[-1500:] for w in self.workers))
            time.sleep(0.2)

    def build(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`package-builder build --config F` (the orchestrator), in a fresh process."""
        return subprocess.run([sys.executable, "-m", "package_builder_dagster.cli", "build", "--config", str(self.config), *args],
                              env={**self.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)

    def start_build(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--config", str(self.config), *args],
                                env={**self.env, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=self.tmp, start_new_session=True)

    def instance(self) -> Any:
        """The shared Dagster instance (Postgres), as the orchestrator sees it."""
        import dagster as dg

        os.environ[PG_ENV] = self.postgres.dagster_url
        return dg.DagsterInstance.from_config(str(self.tmp / "dagster-home"))
