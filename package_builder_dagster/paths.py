"""Paths made from names that come from outside (package names, run ids, check names): each is
checked to stay inside the folder it is meant for, whoever calls, so a hostile name that slipped
past discovery is still refused where the file would be written."""

from __future__ import annotations

from pathlib import Path

from package_builder_dagster.errors import UnsafePath


def inside(folder: Path, *parts: str) -> Path:
    """`folder/part/...`, or UnsafePath when a part is not one plain file name (empty, `.`, `..`, with a
    `/` or a NUL) or the path (symlinks followed) does not stay strictly inside `folder`."""
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\0" in part:
            raise UnsafePath(f"{part!r} cannot be a file name inside {folder}")
    path = Path(folder, *parts)
    base = Path(folder).resolve()
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise UnsafePath(f"{path} would lie outside {folder}")
    return path
