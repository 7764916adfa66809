"""The digest of a package's outputs: their relative paths and contents (symlinks by target), never
their times, so an identical rebuild gives the same digest. Light on imports: `build --stale`'s fast
path uses it."""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path, PurePosixPath


def _clean_relpath(name: str) -> str:
    """`name` as a normalized relative POSIX path; ValueError when absolute, empty or escaping."""
    if not name or "\0" in name or "\\" in name:
        raise ValueError(f"unsafe path {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", "..") for part in path.parts) or name.startswith("/"):
        raise ValueError(f"unsafe path {name!r}")
    cleaned = posixpath.normpath(name)
    if cleaned in (".", "") or cleaned.startswith("../"):
        raise ValueError(f"unsafe path {name!r}")
    return cleaned


def _normalized_files(files: list[str]) -> list[str]:
    """The relative POSIX paths of `files`, cleaned, deduplicated and sorted."""
    return sorted({_clean_relpath(Path(f).as_posix()) for f in files})


def outputs_digest(package_dir: Path, files: list[str]) -> str:
    """The sha256 of the outputs' relative paths and contents (symlinks by target), never their mtimes."""
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for rel in _normalized_files(files):
        path = package_dir / rel
        digest.update(rel.encode("utf-8") + b"\0")
        if path.is_symlink():
            digest.update(b"symlink\0" + os.readlink(path).encode("utf-8"))
        elif path.is_file():
            file_hash = hashlib.sha256()
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    file_hash.update(chunk)
            digest.update(b"file\0" + file_hash.digest())
        else:
            raise FileNotFoundError(f"output {rel} is not a file in {package_dir}")
        digest.update(b"\0")
    return digest.hexdigest()
