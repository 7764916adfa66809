"""What turbo hashes for a task, as parts of this tool's cache key: each task's `inputs` (default:
every file git tracks or would track in the package; `$TURBO_DEFAULT$` adds them to the globs; `!glob`
removes; package.json and the package's turbo.json always count), the values of `env` and
`globalEnv` (wildcards `*` and `!` negation as in turbo), the `globalDependencies` files and the
root package.json. `passThroughEnv` values are never hashed (turbo hashes only their names, which
are in the settings part). No Dagster here.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import hashlib
import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

from package_builder_dagster.discovery.turbo.config import DEFAULT_INPUTS, FILE_NAMES
from package_builder_dagster.discovery.turbo.model import PackageTurbo, WorkspaceTurbo

ROOT_PREFIX = "$TURBO_ROOT$/"
INPUTS_PART = "turbo.json inputs: "  # how the cache key's parts name a task's inputs (explain shows them)
GLOBAL_PART = "turbo.json global files"


@functools.lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A doublestar glob (`**` any folders, `*` and `?` within one name, `[a-z]`/`[!a]`, `{a,b}`) as a regex on POSIX paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            negate = body[0] in "!^"
            chars = "".join(c if c == "-" else re.escape(c) for c in body[1 if negate else 0:])
            out.append(("[^/" if negate else "[") + chars + "]")
            i = end + 1
        elif pattern[i] == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + "(?:/.*)?")


def _rooted(pattern: str, package_path: str) -> str:
    """A task glob as a glob on workspace-relative paths."""
    if pattern.startswith(ROOT_PREFIX):
        return posixpath.normpath(pattern[len(ROOT_PREFIX):])
    return posixpath.normpath(posixpath.join(package_path, pattern.removeprefix("./")))


def task_input_files(inputs: Iterable[str] | None, package_path: str, files: list[str]) -> list[str]:
    """A task's input files (workspace-relative), picked from `files` (every file git lists)."""
    inputs = list(inputs) if inputs is not None else [DEFAULT_INPUTS]
    prefix = package_path.rstrip("/") + "/"
    own = [f for f in files if f.startswith(prefix)]
    chosen: set[str] = set(own) if DEFAULT_INPUTS in inputs else set()
    for pattern in (p for p in inputs if p != DEFAULT_INPUTS and not p.startswith("!")):
        rx = glob_regex(_rooted(pattern, package_path))
        chosen |= {f for f in (own if _rooted(pattern, package_path).startswith(prefix) else files) if rx.fullmatch(f)}
    for pattern in (p[1:] for p in inputs if p.startswith("!")):
        rx = glob_regex(_rooted(pattern, package_path))
        chosen = {f for f in chosen if not rx.fullmatch(f)}
    always = {prefix + "package.json", *(prefix + n for n in FILE_NAMES)}
    return sorted(chosen | (always & set(own)))


def files_digest(root: Path, files: Iterable[str], object_ids: dict[Path, str]) -> str:
    """A digest of (path, git object id) for each file (a clean tracked file's id comes from git's index)."""
    from package_builder_dagster.discovery.code_versions import git_object_id

    digest = hashlib.sha256()
    for rel in sorted(files):
        object_id = object_ids.get(root / rel)
        if object_id is None:
            try:
                object_id = git_object_id((root / rel).read_bytes())
            except OSError:
                object_id = "missing"
        digest.update(f"{rel}\0{object_id}\n".encode())
    return digest.hexdigest()


def env_names(patterns: Iterable[str], environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """The variables `patterns` name: plain names, `*` wildcards over what is set, `!pattern` removals."""
    names: set[str] = set()
    for pattern in (p for p in patterns if not p.startswith("!")):
        names |= {n for n in environ if fnmatch.fnmatchcase(n, pattern)} if "*" in pattern else {pattern}
    for pattern in (p[1:] for p in patterns if p.startswith("!")):
        names = {n for n in names if not fnmatch.fnmatchcase(n, pattern)}
    return sorted(names)


def global_files(root: Path, workspace: WorkspaceTurbo, files: list[str]) -> list[str]:
    """The root package.json and the files `globalDependencies` names."""
    chosen = {"package.json"}
    for pattern in workspace.global_dependencies:
        rx = glob_regex(posixpath.normpath(pattern.removeprefix(ROOT_PREFIX).removeprefix("./")))
        chosen |= {f for f in files if rx.fullmatch(f)}
    return sorted(chosen)


def package_env_patterns(turbo: PackageTurbo, workspace: WorkspaceTurbo) -> list[str]:
    """Every env pattern whose values its tasks hash: `globalEnv` and each task's `env`."""
    return [*workspace.global_env, *(p for t in turbo.tasks for p in t.definition.env)]


class WorkspaceListing:
    """Every file git tracks or would track, workspace-relative and sorted (read once per discovery), with
    git's object ids; outside git, a package's files are walked when asked for."""

    def __init__(self, root: Path, listed: list[Path] | None):
        self.root, self.git = root, listed is not None
        self.files = sorted(p.relative_to(root).as_posix() for p in listed or [])
        self.object_ids: dict[Path, str] = getattr(listed, "object_ids", {})
        self.global_digest: str | None = None  # the global files' digest, once per listing

    def under(self, folder: str) -> list[str]:
        """The files under `folder` (workspace-relative)."""
        if not self.git:
            return [f"{folder}/{rel}" for rel in _walk(self.root / folder)]
        prefix = folder.rstrip("/") + "/"
        start = bisect.bisect_left(self.files, prefix)
        end = bisect.bisect_left(self.files, prefix[:-1] + "0")  # "0" sorts right after "/"
        return self.files[start:end]


def turbo_parts(pkg_path: str, turbo: PackageTurbo, workspace: WorkspaceTurbo, listing: WorkspaceListing,
                with_global: bool = True) -> dict[str, str]:
    """The cache key's turbo parts for one package: each task's inputs, and (`with_global`) the global files."""
    root, ids = listing.root, listing.object_ids
    own = listing.under(pkg_path)
    parts = {}
    if with_global:
        if listing.global_digest is None:
            listing.global_digest = files_digest(root, global_files(root, workspace, listing.files), ids)
        parts[GLOBAL_PART] = listing.global_digest
    for task in turbo.tasks:
        inputs = task.definition.inputs
        escapes = any(not _rooted(p.lstrip("!"), pkg_path).startswith(pkg_path.rstrip("/") + "/") for p in inputs or [])
        chosen = task_input_files(inputs, pkg_path, listing.files if escapes else own)
        parts[INPUTS_PART + task.name] = files_digest(root, chosen, ids)
    return parts


def _walk(folder: Path) -> list[str]:
    found = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in {"node_modules", ".git", ".turbo"})
        found += [Path(here, n).relative_to(folder).as_posix() for n in names]
    return sorted(found)
