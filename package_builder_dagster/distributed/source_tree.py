"""The commit a distributed run builds: recorded as a run tag, so every worker checks out the same
tree. A tree whose tracked files are modified or staged cannot be rebuilt elsewhere: refused."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.errors import UsageError

COMMIT_TAG = "package-builder/commit"
MAX_LISTED = 20


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise UsageError(f"a distributed build needs a git repository: `git {' '.join(args)}` failed in {root}: "
                         f"{(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def head_commit(root: Path) -> str:
    """The full sha of HEAD in `root`."""
    return _git(root, "rev-parse", "--verify", "HEAD^{commit}").strip()


def tree_changes(root: Path) -> tuple[list[str], list[str]]:
    """(tracked files modified or staged, untracked files) of the working tree at `root`."""
    changed, untracked = [], []
    for line in _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all").split("\0"):
        if not line:
            continue
        status, path = line[:2], line[3:]
        (untracked if status == "??" else changed).append(path)
    return changed, untracked


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    return shown + (f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else "")


def run_tags(config: BuildConfig, warn: Callable[[str], None] = lambda _m: None) -> dict[str, str]:
    """The tags a run needs when the config has a distributed executor: the commit its workers check
    out. {} without one. A UsageError naming the files when tracked files are modified or staged;
    untracked files only give a warning (workers never see them)."""
    if config.dagster.executor is None:
        return {}
    root = config.root
    changed, untracked = tree_changes(root)
    if changed:
        raise UsageError(f"a distributed build runs on the workers' own clones at a commit, so the working tree must be "
                         f"clean: {len(changed)} tracked file(s) modified or staged in {root}: {_listing(changed)}; "
                         "commit or stash them")
    if untracked:
        warn(f"{len(untracked)} untracked file(s) are not part of the commit the workers build: {_listing(untracked)}")
    return {COMMIT_TAG: head_commit(root)}
