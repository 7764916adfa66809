"""Publishing to an npm registry, as plain Python (no Dagster here).

What is already on the registry (its HTTP API), the package manager's own publish command, one
retry after a transient failure, and the npm token kept out of every argument list, log and report:
it reaches npm and pnpm through a temporary user config file and yarn berry through its environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from package_builder_dagster import http
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.discovery.package_managers import PackageManager, _which
from package_builder_dagster.errors import RegistryError
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.tool_output import first_error_line
from package_builder_dagster.http import root_reason
from package_builder_dagster.secret_env import npm_token

# Answers worth one more try; anything else from the registry is final (401/403, version exists, invalid package).
TRANSIENT = re.compile(
    r"\bE5\d\d\b|\b5\d\d (?:Service Unavailable|Bad Gateway|Internal Server Error|Gateway Time-?out)"
    r"|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|EAI_AGAIN|socket hang up|network timeout",
    re.IGNORECASE,
)
CONFLICT = re.compile(r"EPUBLISHCONFLICT|cannot publish over|previously published version", re.IGNORECASE)
# Folders a build writes inside a package; a working tree may differ from HEAD only there.
BUILD_OUTPUTS = ("dist", "build", "lib", "out", "coverage", ".turbo")
RETRY_PAUSE_SECONDS = 1.0


PublishStatus = Literal["published", "already-published", "dry-run", "skipped", "deferred", "failed"]


@dataclass
class PublishOutcome:
    """What publishing one package did."""

    status: PublishStatus
    version: str
    registry: str
    duration_ms: int = 0
    attempts: int = 0
    message: str = ""
    files: int | None = None  # files in the tarball
    size: int | None = None  # tarball bytes
    unpacked_size: int | None = None
    log: str | None = None
    detail: str | None = None  # the command's output tail, on failure

    @property
    def failed(self) -> bool:
        return self.status == "failed"




def display_url(url: str) -> str:
    """The registry URL without any user:password part (safe to log)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) if parts.hostname else url


def _auth_key(url: str) -> str:
    """The npmrc key prefix that scopes a token to one registry: `//host:port/path/`."""
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"//{parts.netloc.rsplit('@', 1)[-1]}{path}"


class Registry:
    """Read-only questions to an npm registry over its HTTP API, each retried once when transient
    (unreachable, timed out, or answered 5xx), after RETRY_PAUSE_SECONDS."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0):
        self.url = url if url.endswith("/") else url + "/"
        self._token = token
        self.timeout = timeout
        self._session = http.session(retries=1, pause=RETRY_PAUSE_SECONDS)

    def _get(self, path: str, accept: str = "application/json") -> tuple[int, bytes]:
        headers = {"Accept": accept}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._session.get(self.url + path, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"{display_url(self.url)} unreachable: {self._scrub(root_reason(exc))}", transient=True) from None
        if response.status_code >= 500:
            raise RegistryError(f"{display_url(self.url)} answered {response.status_code} {response.reason}", transient=True)
        return response.status_code, response.content

    def _scrub(self, text: str) -> str:
        for secret in (self._token, urlsplit(self.url).password):
            if secret:
                text = text.replace(secret, "***")
        return text

    def versions(self, name: str) -> set[str]:
        """The versions of `name` on the registry (empty when the package is unknown there)."""
        status, body = self._get(quote(name, safe="@"), "application/vnd.npm.install-v1+json")
        if status == 404:
            return set()
        if status != 200:
            raise RegistryError(f"{display_url(self.url)} answered {status} for {name}", transient=False)
        try:
            return set((json.loads(body).get("versions") or {}).keys())
        except (ValueError, AttributeError):
            raise RegistryError(f"{display_url(self.url)} sent an unreadable document for {name}", transient=False) from None

    def whoami(self) -> str | None:
        """The user the token belongs to, or None when the registry does not accept it."""
        status, body = self._get("-/whoami")
        if status != 200:
            return None
        try:
            return json.loads(body).get("username") or None
        except (ValueError, AttributeError):
            return None


def uncommitted_changes(root: Path, graph: WorkspaceGraph, own_dirs: list[Path]) -> list[str]:
    """Paths that differ from HEAD, other than build outputs and this tool's own folders."""
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            cwd=root, capture_output=True, timeout=60,
        )
    except FileNotFoundError:
        return ["(git is not installed: cannot check the working tree)"]
    if proc.returncode != 0:
        return [f"(not a git working tree: {proc.stderr.decode(errors='replace').strip()})"]
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True).stdout.strip()
    entries = proc.stdout.decode(errors="replace").split("\0")
    paths, skip = [], False
    for entry in entries:
        if skip or len(entry) < 4:
            skip = False
            continue
        if entry[0] in "RC":  # a rename is followed by its old path
            skip = True
        paths.append(Path(top) / entry[3:])
    own = [d.resolve() for d in own_dirs]
    outputs = [pkg.dir / name for pkg in graph for name in BUILD_OUTPUTS]
    dirty = []
    for path in paths:
        if "node_modules" in path.parts or path.name.endswith(".tsbuildinfo"):
            continue
        if any(path.is_relative_to(d) for d in [*own, *outputs]):
            continue
        dirty.append(os.path.relpath(path, root))
    return dirty


def registry_message(text: str) -> str:
    """The registry's answer as the package manager printed it (npm's `npm error` lines, yarn's YN codes)."""
    code = re.search(r"npm error code (\S+)", text)
    lines = [
        ln.split("npm error", 1)[1].strip() for ln in text.splitlines()
        if ln.startswith("npm error") and not re.match(r"npm error (code |A complete log)", ln)
    ]
    lines = [ln for ln in lines if ln]
    if lines:
        return (f"{code.group(1)} " if code else "") + lines[0][:300]
    yarn = [ln.strip("➤ ").strip() for ln in text.splitlines() if re.search(r"YN\d{4}:.*(error|invalid|fail|denied|auth)", ln, re.I)]
    return yarn[0][:300] if yarn else first_error_line(text)


def pack_info(text: str, name: str) -> dict[str, Any] | None:
    """The tarball summary that `npm publish --json` (npm, pnpm) prints: files, size, unpackedSize."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            obj, _ = decoder.raw_decode(text[match.start():])
        except ValueError:
            continue
        info = obj.get(name) if isinstance(obj, dict) and isinstance(obj.get(name), dict) else obj
        if isinstance(info, dict) and ("entryCount" in info or "files" in info):
            return info
    return None


def _dist_tag(version: str) -> list[str]:
    """npm refuses to put a prerelease on `latest`: tag it with its identifier (1.0.0-beta.1 → beta)."""
    if "-" not in version:
        return []
    ident = re.match(r"[A-Za-z]+", version.split("-", 1)[1])
    return ["--tag", ident.group(0) if ident else "next"]


class Publisher:
    """Publishes the packages of one run in dependency order; shared by the package threads."""

    def __init__(self, config: BuildConfig, graph: WorkspaceGraph, pm: PackageManager, runner: CommandRunner):
        self.config, self.graph, self.pm, self.runner = config, graph, pm, runner
        self.settings = config.publishing
        self.url = config.npmRegistry if config.npmRegistry.endswith("/") else config.npmRegistry + "/"
        self._token = npm_token(config)
        self.registry = Registry(self.url, self._token)
        if self._token:  # whatever a command prints, the token never reaches a log
            runner.secrets = (*runner.secrets, self._token)
        self._published: dict[str, str] = {}  # published (or, in a dry run, would be) in this run
        self._lock = threading.Lock()

    def remember(self, name: str, version: str) -> None:
        """Count `name@version` as published in this run (e.g. by an earlier step of the run)."""
        with self._lock:
            self._published[name] = version

    # -- before the run ---------------------------------------------------------------------
    def preflight(self) -> tuple[list[str], list[str]]:
        """(errors, warnings) that stop publishing before any package builds."""
        errors: list[str] = []
        warnings: list[str] = []
        if self.settings.requireCleanWorkingDirectory:
            own = [self.config.reports_dir, self.config.logs_dir, self.config.dagster_home]
            dirty = uncommitted_changes(self.graph.root, self.graph, own)
            if dirty:
                shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
                message = f"publishing.requireCleanWorkingDirectory: the working tree has uncommitted changes: {shown}"
                (warnings if self.settings.dryRun else errors).append(message)
        if self._token and not self.settings.dryRun:
            try:
                if self.registry.whoami() is None:
                    errors.append(f"the registry {display_url(self.url)} rejected the npm token (whoami names no user)")
            except RegistryError as exc:
                errors.append(f"cannot reach the registry: {exc}")
        return errors, warnings

    # -- before a package builds (the seed's verifyDependencies) ----------------------------
    def missing_dependencies(self, pkg: Package) -> list[str]:
        """Internal runtime dependencies not on the registry at the version this workspace has."""
        missing = []
        for dep_name in pkg.runtime_dependencies:
            dep = self.graph.packages.get(dep_name)
            if dep is None:
                continue
            with self._lock:
                if self._published.get(dep_name) == dep.version:
                    continue
            if dep.private:
                missing.append(f"{dep_name} (private: never published)")
                continue
            try:
                if dep.version in self.registry.versions(dep_name):
                    continue
                missing.append(f"{dep_name}@{dep.version}")
            except RegistryError as exc:
                missing.append(f"{dep_name}@{dep.version} ({exc})")
        return missing

    def is_available(self, pkg: Package) -> bool:
        """Published in this run, or already on the registry."""
        with self._lock:
            if self._published.get(pkg.name) == pkg.version:
                return True
        try:
            return pkg.version in self.registry.versions(pkg.name)
        except RegistryError:
            return False

    # -- publishing -------------------------------------------------------------------------
    def publish(self, pkg: Package, log_dir: Path) -> PublishOutcome:
        """Publish `pkg` unless it is already there; one retry after a transient failure."""
        started = time.monotonic()
        outcome = PublishOutcome("failed", pkg.version, display_url(self.url))

        def done(status: str, message: str = "") -> PublishOutcome:
            outcome.status, outcome.message = status, message or outcome.message
            outcome.duration_ms = int((time.monotonic() - started) * 1000)
            if status in ("published", "already-published", "dry-run"):
                with self._lock:
                    self._published[pkg.name] = pkg.version
            return outcome

        if pkg.private:
            return done("skipped", "private package: never published")
        workspace_ranges = [f"{d}@{r}" for d, r in pkg.dependency_ranges.items() if r.startswith("workspace:")]
        if self.pm.kind in ("npm", "yarn-classic") and workspace_ranges:
            return done("failed", f"{self.pm.kind} would publish `workspace:` ranges unchanged ({', '.join(workspace_ranges)}): "
                        "use version ranges, or pnpm or yarn berry, which rewrite them")
        try:
            if pkg.version in self.registry.versions(pkg.name):
                return done("already-published", f"{pkg.name}@{pkg.version} is already on {display_url(self.url)}")
        except RegistryError as exc:
            return done("failed", f"cannot read {pkg.name} from the registry: {exc}")

        argv = self.publish_argv(pkg)
        with self._credentials() as env:
            for attempt in (1, 2):
                outcome.attempts = attempt
                log = log_dir / f"publish-{attempt}.log"
                result = self.runner.run(argv, pkg.dir, log, env=env)
                outcome.log = str(log)
                text = result.read_output()
                if result.cancelled:
                    return done("failed", "cancelled: the run was terminated")
                if result.missing_tool:
                    return done("failed", f"missing tool: {result.missing_tool}")
                if result.ok:
                    info = pack_info(text, pkg.name) or {}
                    outcome.files = info.get("entryCount", len(info.get("files") or []) or None)
                    outcome.size, outcome.unpacked_size = info.get("size"), info.get("unpackedSize")
                    if self.settings.dryRun:
                        return done("dry-run", f"would publish {pkg.name}@{pkg.version} to {display_url(self.url)}")
                    return done("published", f"published {pkg.name}@{pkg.version} to {display_url(self.url)}")
                message = registry_message(text)
                outcome.detail = result.tail
                if CONFLICT.search(text):
                    return done("already-published", f"the registry already has {pkg.name}@{pkg.version}: {message}")
                if (result.timed_out or TRANSIENT.search(text)) and attempt == 1:
                    time.sleep(RETRY_PAUSE_SECONDS)
                    continue
                after = " (after one retry)" if attempt == 2 else ""
                return done("failed", f"publish failed{after}: {message}")
        return done("failed")  # not reached

    def publish_argv(self, pkg: Package) -> list[str]:
        """The package manager's own publish command for `pkg`, as an argument list."""
        flags = ["--access", self.settings.access, *_dist_tag(pkg.version), *(["--dry-run"] if self.settings.dryRun else [])]
        if self.pm.kind == "pnpm":
            return [*self.pm.argv, "publish", f"--registry={self.url}", "--no-git-checks", "--json", *flags]
        if self.pm.kind == "yarn-berry":
            return [*self.pm.argv, "npm", "publish", *flags]
        return [_which("npm", "publishing uses npm publish"), "publish", f"--registry={self.url}", "--json", *flags]

    @contextmanager
    def _credentials(self) -> Iterator[dict[str, str]]:
        """Environment for the publish command; the token goes in a private temporary npmrc."""
        folder = Path(tempfile.mkdtemp(prefix="package-builder-npm-"))  # mode 0700
        try:
            env = {
                "npm_config_registry": self.url,
                "npm_config_fetch_retries": "0",  # the one retry is ours
                "npm_config_logs_dir": str(folder / "logs"),
                "npm_config_audit": "false",
            }
            if self._token:
                rc = folder / "npmrc"
                fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(f"registry={self.url}\n{_auth_key(self.url)}:_authToken={self._token}\n")
                env["npm_config_userconfig"] = str(rc)
            if self.pm.kind == "yarn-berry":
                env.update({
                    "YARN_NPM_REGISTRY_SERVER": self.url.rstrip("/"),
                    "YARN_NPM_PUBLISH_REGISTRY": self.url.rstrip("/"),
                    "YARN_UNSAFE_HTTP_WHITELIST": urlsplit(self.url).hostname or "",
                    "YARN_HTTP_RETRY": "0",
                    "YARN_ENABLE_TELEMETRY": "0",
                })
                if self._token:
                    env["YARN_NPM_AUTH_TOKEN"] = self._token
            yield env
        finally:
            shutil.rmtree(folder, ignore_errors=True)
