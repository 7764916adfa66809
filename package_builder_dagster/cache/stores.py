"""Where artifacts live: a size-capped local folder, a Turborepo-compatible remote cache, and both for one run.

A store that cannot be used (unreachable server, timeout, full or read-only disk) raises
`StoreError`; `ArtifactCache` turns that into at most one warning per store and run, and never
into a failed build.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from filelock import FileLock, Timeout

from package_builder_dagster import http
from package_builder_dagster.discovery.config import default_cache_dir
from package_builder_dagster.errors import StoreError


def _display_url(url: str) -> str:
    """`url` without user and password."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) if parts.hostname else url


KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ENTRY_SUFFIX = ".tar.gz"
_STALE_TEMP_SECONDS = 3600


def validate_key(key: str) -> str:
    """`key` when it is 1-128 letters, digits, dashes or underscores; ValueError otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValueError(f"invalid cache key {key!r}: use 1-128 letters, digits, '-' or '_'")
    return key


def default_local_dir() -> Path:
    """The local store's folder when the config names none (see config.default_cache_dir)."""
    return default_cache_dir()


# ---- local ------------------------------------------------------------------------------------

class LocalStore:
    """Artifacts as files in one folder, least-recently-used evicted beyond `max_size_mb`."""

    name = "local"

    def __init__(self, directory: Path, max_size_mb: int = 10240):
        self.directory = Path(directory)
        self.max_bytes = int(max_size_mb * 1024 * 1024)
        # The store's size as this process last counted it, plus what it wrote since: the folder is
        # scanned (and evicted) on the first write and whenever this estimate passes the cap, not on
        # every write. Other processes' writes are counted at their own first write.
        self._estimated_bytes: int | None = None
        self._estimate_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalStore(directory={str(self.directory)!r}, max_bytes={self.max_bytes})"

    def _path(self, key: str) -> Path:
        return self.directory / f"{validate_key(key)}{ENTRY_SUFFIX}"

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every entry, oldest first."""
        entries = []
        try:
            candidates = list(self.directory.glob(f"*{ENTRY_SUFFIX}"))
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} unreadable: {exc}") from None
        for path in candidates:
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"local cache at {self.directory} unreadable: {exc}") from None
            entries.append((st.st_mtime, st.st_size, path))
        entries.sort(key=lambda entry: (entry[0], entry[2].name))
        return entries

    def _lock(self) -> FileLock:
        return FileLock(str(self.directory / ".lock"), timeout=10)

    def get(self, key: str) -> bytes | None:
        """The blob stored under `key`, or None; a hit marks the entry recently used."""
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} unreadable: {exc}") from None
        try:
            os.utime(path)
        except OSError:
            pass  # a read-only cache still serves hits; only its LRU order goes stale
        return blob

    def has(self, key: str) -> bool:
        """Whether an entry exists for `key`."""
        return self._path(key).is_file()

    def put(self, key: str, blob: bytes) -> None:
        """Store `blob` under `key` atomically, then evict least-recently-used entries beyond the cap."""
        path = self._path(key)
        tmp_name = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} not writable: {exc}") from None
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        with self._estimate_lock:
            due = self._estimated_bytes is None or self._estimated_bytes + len(blob) > self.max_bytes
            if not due:
                self._estimated_bytes += len(blob)
        if due:
            self._evict(self.max_bytes, keep=path)

    def _evict(self, max_bytes: int, keep: Path | None = None) -> dict:
        """Remove oldest entries (never `keep`) while the total exceeds `max_bytes`."""
        removed, removed_bytes = 0, 0
        try:
            with self._lock():
                entries = self._entries()
                total = sum(size for _, size, _ in entries)
                for _, size, entry in entries:
                    if total <= max_bytes:
                        break
                    if keep is not None and entry == keep:
                        continue
                    try:
                        entry.unlink()
                    except FileNotFoundError:
                        pass
                    total -= size
                    removed, removed_bytes = removed + 1, removed_bytes + size
            with self._estimate_lock:
                self._estimated_bytes = total
        except Timeout:
            pass  # another process is evicting right now
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} not writable: {exc}") from None
        return {"removed": removed, "bytes": removed_bytes}

    def delete(self, key: str) -> None:
        """Remove the entry for `key` (nothing when there is none)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except NotADirectoryError:
            pass
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} not writable: {exc}") from None

    def stats(self) -> dict:
        """Entries, total bytes, the folder and the cap."""
        entries = self._entries() if self.directory.is_dir() else []
        return {"entries": len(entries), "bytes": sum(size for _, size, _ in entries),
                "directory": str(self.directory), "max_bytes": self.max_bytes}

    def prune(self, max_size_mb: int | None = None, older_than_days: float | None = None) -> dict:
        """Remove entries older than `older_than_days`, then the oldest beyond `max_size_mb` (default: the cap)."""
        if not self.directory.is_dir():
            return {"removed": 0, "bytes": 0}
        removed, removed_bytes = 0, 0
        now = time.time()
        try:
            with self._lock():
                for stale in self.directory.glob(".*.tmp"):
                    if now - stale.stat().st_mtime > _STALE_TEMP_SECONDS:
                        stale.unlink(missing_ok=True)
                if older_than_days is not None:
                    cutoff = now - older_than_days * 86400
                    for mtime, size, entry in self._entries():
                        if mtime < cutoff:
                            entry.unlink(missing_ok=True)
                            removed, removed_bytes = removed + 1, removed_bytes + size
        except Timeout:
            raise StoreError(f"local cache at {self.directory} is locked by another process") from None
        except OSError as exc:
            raise StoreError(f"local cache at {self.directory} not writable: {exc}") from None
        cap = self.max_bytes if max_size_mb is None else int(max_size_mb * 1024 * 1024)
        evicted = self._evict(cap)
        return {"removed": removed + evicted["removed"], "bytes": removed_bytes + evicted["bytes"]}


# ---- remote -----------------------------------------------------------------------------------

def artifact_tag(signature_key: str, key: str, team_id: str | None, blob: bytes) -> str:
    """Turborepo's x-artifact-tag: base64(HMAC-SHA256(signature_key, hash + team_id + body))."""
    mac = hmac.new(signature_key.encode("utf-8"), digestmod=hashlib.sha256)
    mac.update(key.encode("utf-8"))
    mac.update((team_id or "").encode("utf-8"))
    mac.update(blob)
    return base64.b64encode(mac.digest()).decode("ascii")


def _tag_matches(expected: str, received: str) -> bool:
    try:
        got = base64.b64decode(received.strip() + "=" * (-len(received.strip()) % 4), validate=True)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(base64.b64decode(expected), got)


class RemoteStore:
    """A Turborepo Remote Cache API server (`/v8/artifacts/{hash}`), e.g. Vercel or turborepo-remote-cache."""

    name = "remote"

    def __init__(self, url: str, token: str | None, team: str | None = None, read_only: bool = False,
                 signature_key: str | None = None, timeout_seconds: float = 10.0):
        self.url = url.rstrip("/")
        self.shown_url = _display_url(self.url)  # for messages: without credentials
        self._token = token
        self.team = team
        self.read_only = read_only
        self._signature_key = signature_key
        self.timeout_seconds = timeout_seconds
        self.last_miss_reason: str | None = None
        self._session = http.session()  # no retries: one failure and the run goes on without the remote

    def __repr__(self) -> str:
        token = "'***'" if self._token else "None"
        signed = "'***'" if self._signature_key else "None"
        return (f"RemoteStore(url={self.shown_url!r}, token={token}, team={self.team!r}, "
                f"read_only={self.read_only}, signature_key={signed})")

    @property
    def _team_id(self) -> str:
        """The team id that signatures cover: Turborepo signs with the `team_…` id, and with "" for a slug."""
        return self.team if self.team and self.team.startswith("team_") else ""

    def _params(self) -> dict[str, str]:
        if not self.team:
            return {}
        return {"teamId": self.team} if self.team.startswith("team_") else {"slug": self.team}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _scrub(self, text: str) -> str:
        for secret in (self._token, self._signature_key):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _request(self, method: str, key: str, **kwargs) -> requests.Response:
        url = f"{self.url}/v8/artifacts/{validate_key(key)}"
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        try:
            return self._session.request(method, url, params=self._params(), headers=headers,
                                         timeout=(self.timeout_seconds, self.timeout_seconds), **kwargs)
        except requests.Timeout:
            raise StoreError(f"remote cache at {self.shown_url} timed out after {self.timeout_seconds:g}s") from None
        except requests.RequestException as exc:
            reason = self._scrub(f"{type(exc).__name__}: {exc}")
            raise StoreError(f"remote cache at {self.shown_url} unreachable: {reason}") from None

    def _check(self, response: requests.Response, action: str) -> None:
        """StoreError for any answer that is neither a success nor a 404."""
        code = response.status_code
        if code in (401, 403):
            raise StoreError(f"remote cache at {self.shown_url} refused to {action} (HTTP {code}): "
                             "check the token and team (TURBO_TOKEN, TURBO_TEAM)")
        if code >= 400 and code != 404:
            detail = self._scrub(response.text[:200].strip()) if response.text else ""
            raise StoreError(f"remote cache at {self.shown_url} failed to {action} (HTTP {code})"
                             + (f": {detail}" if detail else ""))

    def get(self, key: str) -> bytes | None:
        """The blob for `key`, or None on a miss (or a missing/wrong signature when signing)."""
        self.last_miss_reason = None
        response = self._request("GET", key)
        self._check(response, "read")
        if response.status_code == 404:
            self.last_miss_reason = "not found"
            return None
        if response.status_code != 200:
            raise StoreError(f"remote cache at {self.shown_url} answered HTTP {response.status_code} to a read")
        blob = response.content
        if self._signature_key:
            received = response.headers.get("x-artifact-tag")
            if not received:
                self.last_miss_reason = "signature tag missing"
                return None
            if not _tag_matches(artifact_tag(self._signature_key, key, self._team_id, blob), received):
                self.last_miss_reason = "signature tag does not match"
                return None
        return blob

    def put(self, key: str, blob: bytes, duration_ms: int = 0) -> None:
        """Upload `blob` under `key` (nothing when read-only)."""
        validate_key(key)
        if self.read_only:
            return
        headers = {"Content-Type": "application/octet-stream", "x-artifact-duration": str(int(duration_ms))}
        if self._signature_key:
            headers["x-artifact-tag"] = artifact_tag(self._signature_key, key, self._team_id, blob)
        response = self._request("PUT", key, data=blob, headers=headers)
        self._check(response, "store")
        if not 200 <= response.status_code < 300:
            raise StoreError(f"remote cache at {self.shown_url} answered HTTP {response.status_code} to an upload")

    def has(self, key: str) -> bool:
        """Whether the server holds an artifact for `key` (HEAD)."""
        response = self._request("HEAD", key)
        self._check(response, "read")
        return response.status_code == 200


# ---- both, for one run ------------------------------------------------------------------------

class ArtifactCache:
    """Local then remote lookups, uploads in the background, and at most one warning per store."""

    def __init__(self, local: LocalStore | None, remote: RemoteStore | None, warn: Callable[[str], None]):
        self.local = local
        self.remote = remote
        self._warn = warn
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._remote_disabled = False
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self.errors: dict[str, int] = {"local": 0, "remote": 0}
        self.hits_local = 0
        self.hits_remote = 0
        self.misses = 0
        self.puts = 0

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def _remote_usable(self) -> bool:
        with self._lock:
            return self.remote is not None and not self._remote_disabled

    def _failed(self, store_name: str, exc: Exception) -> None:
        """Count a store failure; warn on the first one per store; stop using the remote after one."""
        with self._lock:
            self.errors[store_name] = self.errors.get(store_name, 0) + 1
            first = store_name not in self._warned
            self._warned.add(store_name)
            if store_name == "remote":
                self._remote_disabled = True
        if first:
            suffix = "building without it" if store_name == "remote" else "continuing without it"
            self._warn(f"{exc}; {suffix}")

    def fetch(self, key: str) -> tuple[bytes, str] | None:
        """(blob, "local"|"remote") for `key`, or None; a remote hit is copied to the local store."""
        if self.local is not None:
            try:
                blob = self.local.get(key)
            except StoreError as exc:
                self._failed("local", exc)
                blob = None
            if blob is not None:
                self._count("hits_local")
                return blob, "local"
        if self._remote_usable():
            try:
                blob = self.remote.get(key)
            except StoreError as exc:
                self._failed("remote", exc)
                blob = None
            if blob is not None:
                self._count("hits_remote")
                if self.local is not None:
                    try:
                        self.local.put(key, blob)
                    except StoreError as exc:
                        self._failed("local", exc)
                return blob, "remote"
        self._count("misses")
        return None

    def _upload(self, key: str, blob: bytes, duration_ms: int) -> None:
        if not self._remote_usable():
            return
        try:
            self.remote.put(key, blob, duration_ms=duration_ms)
        except StoreError as exc:
            self._failed("remote", exc)
        except Exception as exc:  # noqa: BLE001 - a background upload must never break the build
            self._failed("remote", StoreError(f"remote cache at {self.remote.shown_url} upload failed: {type(exc).__name__}: {exc}"))

    def store(self, key: str, blob: bytes, duration_ms: int = 0) -> None:
        """Write `blob` to the local store now and to the remote one in the background."""
        validate_key(key)
        self._count("puts")
        if self.local is not None:
            try:
                self.local.put(key, blob)
            except StoreError as exc:
                self._failed("local", exc)
        if self._remote_usable() and not self.remote.read_only:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="artifact-upload")
                self._pending.append(self._pool.submit(self._upload, key, blob, duration_ms))

    def discard(self, key: str) -> None:
        """Remove a (corrupt) local entry for `key`."""
        if self.local is None:
            return
        try:
            self.local.delete(key)
        except StoreError as exc:
            self._failed("local", exc)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pending background uploads; True when all have finished."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait_futures(pending, timeout=timeout)
        with self._lock:
            self._pending = [future for future in self._pending if not future.done()]
        return not not_done
