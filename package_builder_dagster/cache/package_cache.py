"""The cache as a package step sees it: look a package up before its build, restore it on a hit,
save it after it succeeded. No Dagster here.

An artifact holds the package's outputs and a manifest with the recorded results of its build,
tests and checks (and their logs), so a hit replays them instead of running anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from package_builder_dagster.cache.artifact import CorruptArtifact, pack, restore
from package_builder_dagster.cache.stores import ArtifactCache, LocalStore, RemoteStore, default_local_dir
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.discovery.package_names import package_path
from package_builder_dagster.paths import inside
from package_builder_dagster.secret_env import remote_cache_token, signature_key

MAX_LOG_CHARS = 200_000  # per log kept in an artifact (its tail)
MANIFEST_FORMAT = 1


@dataclass
class CacheInfo:
    """What the cache did for one package in one run."""

    key: str
    inputs: dict[str, str] = field(default_factory=dict)  # what the key is made of (hashes only)
    hit: bool = False
    source: str | None = None  # local | remote
    restore_ms: int = 0
    saved_ms: int = 0  # the recorded build + test + check time a hit did not spend
    stored: bool = False
    note: str | None = None  # why it was not used (corrupt artifact, ...)


@dataclass
class Restored:
    """A hit: the recorded results and where the replayed logs are."""

    record: dict[str, Any]
    files: list[str]
    digest: str
    logs: dict[str, Path] = field(default_factory=dict)  # log name -> replayed file


def make_artifact_cache(config: BuildConfig, warn: Callable[[str], None], mode: str | None = None) -> ArtifactCache | None:
    """The stores the config and `mode` (local, remote, both, off) ask for; None when caching is off.
    The remote token and signature key are read here, from the variables the config names."""
    mode = mode or config.cache_mode
    if mode == "off":
        return None
    local = remote = None
    if mode in ("local", "both") and config.cache.local.enabled:
        local = LocalStore(config.cache.local.dir or default_local_dir(), config.cache.local.maxSizeMB)
    settings = config.cache.remote
    if mode in ("remote", "both") and settings.url:
        signature = signature_key(config)
        if settings.signatureKeyEnv and not signature:
            warn(f"cache.remote.signatureKeyEnv names ${settings.signatureKeyEnv}, which is not set: artifacts are not signed")
        remote = RemoteStore(settings.url, remote_cache_token(config), settings.team, settings.readOnly,
                             signature, settings.timeoutSeconds)
    if local is None and remote is None:
        return None
    return ArtifactCache(local, remote, warn)


def uncached_tasks(pkg: Package) -> list[str]:
    """Its tasks turbo.json marks `cache: false`: a package with one is never restored (nor stored)."""
    return [t.name for t in pkg.turbo.tasks if not t.definition.cache] if pkg.turbo else []


class PackageCache:
    """Restores and saves packages through an ArtifactCache; saves run in the background."""

    def __init__(self, artifacts: ArtifactCache, logs_dir: Path, warn: Callable[[str], None]):
        self.artifacts, self.logs_dir, self.warn = artifacts, logs_dir, warn
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="artifact-pack")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def lookup(self, pkg: Package, info: CacheInfo) -> Restored | None:
        """Restore `pkg` from the cache when its key is there; None on a miss (or a corrupt artifact)."""
        started = time.monotonic()
        uncached = uncached_tasks(pkg)
        if uncached:
            info.note = f"not restored: turbo.json says `cache: false` for its {', '.join(uncached)}, so it always runs"
            return None
        found = self.artifacts.fetch(info.key)
        if found is None:
            return None
        blob, source = found
        try:
            artifact = restore(blob, pkg.dir)
            if not isinstance(artifact.manifest.get("record", {}), dict) or not isinstance(artifact.manifest.get("logs", {}), dict):
                raise CorruptArtifact("its manifest has no readable record")
        except CorruptArtifact as exc:
            self.artifacts.discard(info.key)
            info.note = f"cached artifact discarded ({exc}); rebuilt"
            self.warn(f"{pkg.name}: {info.note}")
            return None
        except Exception as exc:  # noqa: BLE001 - a restore that cannot finish is a miss: the build rewrites the outputs
            info.note = f"restoring from the cache failed ({type(exc).__name__}: {exc}); rebuilt"
            self.warn(f"{pkg.name}: {info.note}")
            return None
        record = artifact.manifest.get("record") or {}
        restored = Restored(record, artifact.files, artifact.digest)
        folder = package_path(self.logs_dir, pkg.name)
        for name, text in (artifact.manifest.get("logs") or {}).items():
            path = inside(folder, Path(name).name)  # a name from the artifact: never outside the folder
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# replayed from the cache (key {info.key}, {source})\n{text}")
            restored.logs[name] = path
        info.hit, info.source = True, source
        info.restore_ms = int((time.monotonic() - started) * 1000)
        timings = record.get("timings") or {}
        info.saved_ms = int(sum(timings.get(k, 0) for k in ("build", "test", "quality")))
        return restored

    def save(self, pkg: Package, key: str, inputs: dict[str, str], files: list[str], record: dict[str, Any],
             logs: list[Path], duration_ms: int) -> None:
        """Pack the package's outputs and record, and store them under `key` (in the background);
        never a package that is never restored."""
        if uncached_tasks(pkg):
            return
        def work() -> None:
            try:
                texts = {}
                for path in logs:
                    try:
                        texts[path.name] = path.read_text(errors="replace")[-MAX_LOG_CHARS:]
                    except OSError:
                        continue
                manifest = {"format": MANIFEST_FORMAT, "package": pkg.name, "version": pkg.version, "key": key,
                            "inputs": inputs, "record": record, "logs": texts}
                self.artifacts.store(key, pack(pkg.dir, files, manifest), duration_ms)
            except (OSError, ValueError) as exc:  # an output vanished or is unsafe: never fail the build
                self.warn(f"{pkg.name}: not cached: {exc}")

        with self._lock:
            self._pending.append(self._pool.submit(work))

    def wait(self) -> None:
        """Wait until every save has been packed and stored (local and remote)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result()
        self.artifacts.wait()
        self._pool.shutdown(wait=True)

