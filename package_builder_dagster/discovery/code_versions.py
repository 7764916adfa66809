"""What a package's materialization depends on, as content hashes: its Dagster code version.

A package's version covers its source files (what git tracks or would track; without git, every
file outside installs and build outputs), its `package.json`, its own entry in the lockfile, its
plan, and the builder's settings that change what a build checks. Dagster derives each
materialization's data version from the code version and the upstream data versions, so a change
upstream makes dependents stale too. No Dagster here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.files import read_yaml

SKIP_DIRS = {"node_modules", ".git", "dist", "coverage", ".turbo", ".cache"}


class WorkspaceFiles(list):
    """The files git tracks or would track (not ignored) under a folder, with git's object id for
    each tracked file whose working copy is unchanged (so hashing it needs no read)."""

    def __init__(self, files: list[Path], object_ids: dict[Path, str]):
        super().__init__(files)
        self.object_ids = object_ids


def _git(root: Path, *args: str) -> list[str] | None:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=120)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return [p for p in proc.stdout.decode(errors="replace").split("\0") if p]


def workspace_files(root: Path) -> WorkspaceFiles | None:
    """Files git tracks or would track (not ignored) in `root`; None when it is not a git work tree."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    staged = _git(root, "ls-files", "-z", "--stage")
    changed = _git(root, "ls-files", "-z", "--modified", "--deleted")
    if listed is None or staged is None or changed is None:
        return None
    dirty = set(changed)
    ids = {}
    for line in staged:
        meta, _, path = line.partition("\t")
        mode, object_id, stage = meta.split(" ")
        if stage == "0" and mode != "160000" and path not in dirty:
            ids[root / path] = object_id
    return WorkspaceFiles([root / p for p in listed], ids)


def package_files(pkg: Package, listed: list[Path] | None) -> list[Path]:
    if listed is not None:
        prefix = str(pkg.dir) + os.sep
        return sorted(p for p in listed if str(p).startswith(prefix) and p.is_file())
    found = []
    for folder, dirs, names in os.walk(pkg.dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found += [Path(folder) / n for n in names if not n.endswith((".tsbuildinfo", ".log"))]
    return sorted(found)


def git_object_id(content: bytes) -> str:
    """The id git gives a file's content (SHA-1 of `blob <size>\\0<content>`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def source_hash(pkg: Package, listed: list[Path] | None) -> str:
    """A digest of the package's files: their relative paths and git object ids (a clean tracked
    file's id comes from git's index, any other file is read)."""
    known = getattr(listed, "object_ids", {})
    digest = hashlib.sha256()
    for path in package_files(pkg, listed):
        object_id = known.get(path)
        if object_id is None:
            try:
                object_id = git_object_id(path.read_bytes())
            except OSError:
                continue
        digest.update(os.path.relpath(path, pkg.dir).encode() + b"\0" + object_id.encode())
    return digest.hexdigest()


def lockfile_entries(root: Path) -> dict[str, str]:
    """Each workspace folder's lockfile entries as JSON: its own entry (npm `packages[path]`, pnpm
    `importers[path]`, which pins versions) and, for npm, the resolved version of each external
    dependency it names; for yarn, the whole lockfile's digest (its entries are keyed by range)."""
    entries: dict[str, str] = {}
    npm = root / "package-lock.json"
    pnpm = root / "pnpm-lock.yaml"
    yarn = root / "yarn.lock"
    try:
        if npm.is_file():
            packages = json.loads(npm.read_text()).get("packages") or {}
            for path, entry in packages.items():
                if path.startswith("node_modules/") or "/node_modules/" in path:
                    continue
                names = sorted({d for f in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
                                for d in (entry.get(f) or {})})
                resolved = {}
                for dep in names:
                    found = packages.get(f"{path}/node_modules/{dep}" if path else f"node_modules/{dep}") or packages.get(f"node_modules/{dep}") or {}
                    resolved[dep] = [found.get("version"), found.get("integrity"), found.get("resolved") if found.get("link") else None]
                entries[path] = json.dumps([entry, resolved], sort_keys=True)
        elif pnpm.is_file():
            for path, entry in ((read_yaml(pnpm) or {}).get("importers") or {}).items():
                entries[path] = json.dumps(entry, sort_keys=True, default=str)
        elif yarn.is_file():
            digest = hashlib.sha256(yarn.read_bytes()).hexdigest()
            return _AllPaths(digest)
    except (ValueError, AttributeError, OSError):
        pass
    return entries


class _AllPaths(dict):
    """The same lockfile entry for every path (a lockfile that cannot be split by package)."""

    def __init__(self, value: str):
        super().__init__()
        self.value = value

    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        return self.value


def settings_fingerprint(config: BuildConfig, pkg: Package | None = None) -> str:
    """The builder's settings that change what a build runs or checks (the package's own checks too)."""
    # testing.retries changes neither what runs nor what passes (a retry that passes was a pass): not a part,
    # so setting it keeps every package fresh and every cache key (and the fingerprints of before it existed)
    relevant = {"testing": config.testing.model_dump(exclude={"retries"}), "phases": config.phases}
    if pkg is not None:
        relevant["checks"] = [c.model_dump() for c in pkg.quality_checks]
        relevant["outputs"] = output_globs(config, pkg)
        if pkg.turbo is not None:  # its tasks, edges and turbo settings (passThroughEnv names included)
            relevant["turbo"] = [[t.to_json(), repr(t.definition)] for t in pkg.turbo.tasks]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def output_globs(config: BuildConfig, pkg: Package) -> list[str] | None:
    """The package's declared output globs (`packageBuilder.outputs`, else its turbo.json tasks' `outputs`,
    else config `outputs`); None: detect."""
    own = pkg.settings.get("outputs")
    if isinstance(own, list) and all(isinstance(g, str) for g in own):
        return list(own)
    turbo = [g for t in (pkg.turbo.tasks if pkg.turbo else []) if t.definition.cache for g in t.definition.outputs]
    if turbo:  # turbo.json's `outputs` of the tasks it caches
        return list(dict.fromkeys(turbo))
    return list(config.outputs) if config.outputs is not None else None


def plan_digest(pkg: Package) -> str:
    try:
        return hashlib.sha256(pkg.plan_path.read_bytes()).hexdigest() if pkg.plan_path else "no-plan"
    except OSError:
        return "none"


def assign_code_versions(graph: WorkspaceGraph, config: BuildConfig) -> None:
    """Set each package's `code_version` (a hash of everything its materialization depends on) and
    `version_parts` (the hashes it is made of)."""
    listed = workspace_files(graph.root)
    locks = lockfile_entries(graph.root)
    for pkg in graph:
        lock = locks.get(pkg.path, "")
        pkg.version_parts = {
            "sources": source_hash(pkg, listed),
            "plan": plan_digest(pkg),
            "lockfile": hashlib.sha256(lock.encode()).hexdigest(),
            "settings": settings_fingerprint(config, pkg),
        }
        parts = [pkg.version_parts["sources"], pkg.version_parts["plan"], lock, pkg.version_parts["settings"]]
        pkg.code_version = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def resolve_commit(git: Callable[..., str], ref: str) -> str:
    """The commit id `ref` names; ValueError "not a git ref" for anything else, an option-like value
    included (git never reads `ref` as an option)."""
    if not ref or ref.startswith("-") or any(ord(c) < 32 for c in ref):
        raise ValueError("not a git ref")
    try:
        return git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
    except ValueError:
        raise ValueError("not a git ref (no commit by that name)") from None


def changed_packages(graph: WorkspaceGraph, ref: str) -> set[str]:
    """Packages with files changed since git ref `ref` (committed, staged, unstaged or untracked)."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=graph.root, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise ValueError(proc.stderr.strip() or f"git {' '.join(args)} failed")
        return proc.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    commit = resolve_commit(git, ref)
    names = git("diff", "--name-only", "--end-of-options", commit, "--").splitlines()
    names += git("ls-files", "--others", "--exclude-standard", "--full-name").splitlines()
    paths = [top / n for n in names if n]
    changed = set()
    for pkg in graph:
        prefix = str(pkg.dir) + os.sep
        if any(str(p).startswith(prefix) for p in paths):
            changed.add(pkg.name)
    return changed
