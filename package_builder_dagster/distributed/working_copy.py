"""A worker's own clone of the repository, made ready for one package of a run: the run's commit
checked out, dependencies installed once with the repository's frozen install, and the outputs of
the package's workspace dependencies restored from the artifact store (they were built elsewhere).

Its state (install stamp, lock, local artifact store, install log) lives in the clone's git folder,
so it is never part of the tree. One worker serves one commit at a time: steps of runs at two
commits at once on the same worker would check out over each other.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from package_builder_dagster.cache.artifact import restore
from package_builder_dagster.cache.package_cache import make_artifact_cache
from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.discovery.package_managers import PackageManager, detect_package_manager
from package_builder_dagster.errors import WorkingCopyError

LOCKFILES = {"npm": ("package-lock.json", "npm-shrinkwrap.json"), "pnpm": ("pnpm-lock.yaml",),
             "yarn-classic": ("yarn.lock",), "yarn-berry": ("yarn.lock",)}
FROZEN_INSTALL = {"npm": ["ci", "--no-audit", "--no-fund"], "pnpm": ["install", "--frozen-lockfile"],
                  "yarn-classic": ["install", "--frozen-lockfile"], "yarn-berry": ["install", "--immutable"]}



def _git(root: Path, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise WorkingCopyError(f"`git {' '.join(args)}` failed in {root}: {(done.stderr or done.stdout).strip()[:500]}")
    return done.stdout.strip()


class WorkingCopy:
    """One clone, with its state folder `<git dir>/package-builder`."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.state = Path(_git(self.root, "rev-parse", "--absolute-git-dir")) / "package-builder"
        self.state.mkdir(parents=True, exist_ok=True)

    @property
    def artifacts_dir(self) -> Path:
        """This clone's own local artifact store (never shared with another worker)."""
        return self.state / "artifacts"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One preparation at a time in this clone (a worker's pool processes share it)."""
        with FileLock(self.state / "lock"):
            yield

    def head(self) -> str:
        return _git(self.root, "rev-parse", "HEAD")

    def checkout(self, commit: str) -> bool:
        """Bring the tree to `commit` (fetching from the clone's remotes when it is not there); True if it moved."""
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):  # from the run's tags: never an option or a ref
            raise WorkingCopyError(f"the run's commit {commit!r} is not a full commit id")
        if self.head() == commit:
            return False
        if subprocess.run(["git", "-C", str(self.root), "cat-file", "-e", f"{commit}^{{commit}}"],
                          capture_output=True).returncode != 0:
            _git(self.root, "fetch", "--all", "--quiet")
        try:
            _git(self.root, "checkout", "--quiet", "--force", "--detach", commit)
        except WorkingCopyError as exc:
            raise WorkingCopyError(f"cannot check out the run's commit {commit} in {self.root} "
                                   f"(was it pushed where this clone fetches from?): {exc}") from None
        return True

    def install(self, timeout: float) -> str:
        """Run the repository's frozen install once per lockfile content; what was done, in words."""
        pm = detect_package_manager(self.root)
        lockfile = next((self.root / n for n in LOCKFILES.get(pm.kind, ()) if (self.root / n).is_file()), None)
        if lockfile is None:
            return f"no {pm.kind} lockfile: nothing to install"
        stamp = hashlib.sha256(f"{pm.kind}\n".encode() + lockfile.read_bytes()).hexdigest()
        stamp_file = self.state / "installed"
        if stamp_file.is_file() and stamp_file.read_text().strip() == stamp and (self.root / "node_modules").is_dir():
            return f"installed already ({lockfile.name} unchanged)"
        self._run_install(pm, timeout)
        stamp_file.write_text(stamp + "\n")
        return f"installed with `{' '.join([pm.tool, *FROZEN_INSTALL[pm.kind]])}`"

    def _run_install(self, pm: PackageManager, timeout: float) -> None:
        log = self.state / "install.log"
        with log.open("w") as out:
            try:
                done = subprocess.run([*pm.argv, *FROZEN_INSTALL[pm.kind]], cwd=self.root, stdout=out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise WorkingCopyError(f"the frozen install timed out after {timeout:.0f} s in {self.root} (log: {log})") from None
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-1500:]
            raise WorkingCopyError(f"the frozen install failed (exit {done.returncode}) in {self.root}:\n{tail}")


def restore_dependencies(config: BuildConfig, graph: WorkspaceGraph, packages: set[str] | None,
                         warn: Callable[[str], None]) -> list[str]:
    """Restore, from the artifact store, the outputs of every workspace dependency of `packages`
    (all packages when None: the suite steps need them all); the names restored."""
    artifacts = make_artifact_cache(config, warn)
    if artifacts is None:
        warn("no artifact store (cache off): dependencies built on other workers are not restored")
        return []
    wanted = set(graph.packages) if packages is None else graph.upstream(packages)
    restored = []
    for pkg in graph:  # dependency order
        if pkg.name not in wanted or not pkg.cache_key:
            continue
        found = artifacts.fetch(pkg.cache_key)
        if found is None:
            if packages is not None:
                warn(f"{pkg.name}: its outputs are not in the artifact store (key {pkg.cache_key}): not restored")
            continue
        try:
            restore(found[0], pkg.dir)
        except Exception as exc:  # noqa: BLE001 - a corrupt artifact: the package's own build will say what is missing
            warn(f"{pkg.name}: restoring its outputs failed ({type(exc).__name__}: {exc})")
            continue
        restored.append(pkg.name)
    return restored
