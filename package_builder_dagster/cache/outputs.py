"""A package's build outputs: the git-ignored files its build creates or changes in its folder.

Without configuration the outputs are found, not declared: the files git ignores in the package
folder that the build created or changed, plus the ignored entries with a well-known output name
(`dist`, `lib`, `dist-*`, `*.tsbuildinfo`, ...), so an incremental build that rewrote nothing still
has outputs. `packageBuilder.outputs` (globs, in package.json) or config `outputs` replaces this.
No Dagster here.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path, PurePosixPath

# Never outputs: installs, coverage, caches, this tool's own files.
EXCLUDED_DIRS = {"node_modules", "coverage", ".turbo", ".cache", ".nyc_output", ".git", "production"}
EXCLUDED_FILES = ("*.log", ".package-builder-*")
WELL_KNOWN = ("dist", "dist-*", "lib", "build", "out", "esm", "cjs", "types", "*.tsbuildinfo")

Snapshot = dict[str, tuple[int, int]]  # relative POSIX path -> (size, mtime_ns)


def _excluded(rel: str) -> bool:
    parts = rel.split("/")
    return any(p in EXCLUDED_DIRS for p in parts[:-1]) or parts[0] in EXCLUDED_DIRS or any(
        fnmatch.fnmatch(parts[-1], pat) for pat in EXCLUDED_FILES)


def _walk(package_dir: Path, rel: str) -> list[str]:
    """Files at `rel` (a file, or every file below a folder), skipping excluded folders."""
    path = package_dir / rel
    if path.is_symlink() or path.is_file():
        return [] if _excluded(rel) else [rel]
    found: list[str] = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS)
        base = Path(folder).relative_to(package_dir).as_posix()
        for name in names:
            child = f"{base}/{name}"
            if not _excluded(child):
                found.append(child)
        for d in list(dirs):  # symlinked folders are kept as links, not followed
            if (Path(folder) / d).is_symlink():
                dirs.remove(d)
                found.append(f"{base}/{d}")
    return found


def ignored_entries(package_dir: Path) -> list[str] | None:
    """The package's git-ignored files and folders (folders not expanded); None outside git."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", "."],
            cwd=package_dir, capture_output=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    entries = []
    for raw in proc.stdout.decode(errors="replace").split("\0"):
        rel = raw.rstrip("/")
        if rel and rel.split("/")[0] not in EXCLUDED_DIRS and not _excluded(rel + ("/x" if raw.endswith("/") else "")):
            entries.append(rel)
    return entries


def snapshot(package_dir: Path) -> Snapshot:
    """Size and modification time of every candidate output file, taken before the build."""
    entries = ignored_entries(package_dir)
    if entries is None:
        entries = [e.name for e in package_dir.iterdir() if _well_known(e.name)] if package_dir.is_dir() else []
    found: Snapshot = {}
    for rel in entries:
        for f in _walk(package_dir, rel):
            try:
                st = os.lstat(package_dir / f)
            except OSError:
                continue
            found[f] = (st.st_size, st.st_mtime_ns)
    return found


def _well_known(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in WELL_KNOWN)


def detect_outputs(package_dir: Path, before: Snapshot) -> list[str]:
    """The outputs after a build: ignored files it created or changed, and well-known output entries."""
    after = snapshot(package_dir)
    touched_tops = {rel.split("/")[0] for rel, stat in after.items() if before.get(rel) != stat}
    return sorted(rel for rel in after if rel.split("/")[0] in touched_tops or _well_known(rel.split("/")[0]))


def glob_outputs(package_dir: Path, patterns: list[str]) -> list[str]:
    """Files matching the declared output globs (relative to the package; `!glob` excludes)."""
    include: set[str] = set()
    exclude: set[str] = set()
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.removeprefix("./")
        if not pat or PurePosixPath(pat).is_absolute() or ".." in PurePosixPath(pat).parts:
            continue  # never outside the package: the cache would pack or restore files elsewhere
        for path in package_dir.glob(pat):
            rel = path.relative_to(package_dir).as_posix()
            files = _walk(package_dir, rel) if path.is_dir() and not path.is_symlink() else [rel]
            (exclude if negate else include).update(files)
    return sorted(include - exclude)


def missing_outputs(package_dir: Path, files: list[str]) -> list[str]:
    """The listed outputs that are missing now."""
    return [f for f in files if not (package_dir / f).is_file() and not (package_dir / f).is_symlink()]
