"""Faults of the machine (a file or folder that cannot be written, a full disk, SQLite storage that
fails) as one line for the user instead of a traceback, with the exit code: 2 for a path the user
must fix before anything can run (permission denied, read-only), 1 for any other fault.

Everything else is a bug and keeps its traceback; PACKAGE_BUILDER_DEBUG=1 keeps it for faults too."""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass

from package_builder_dagster.errors import StoreError

DEBUG_ENV = "PACKAGE_BUILDER_DEBUG"
UNUSABLE_PATH = {errno.EACCES, errno.EPERM, errno.EROFS}  # exit 2: the setup is wrong, not the build


@dataclass(frozen=True)
class Fault:
    message: str
    code: int


def debugging() -> bool:
    """Whether PACKAGE_BUILDER_DEBUG asks for tracebacks (set, and not empty, 0 or false)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def root_cause(exc: BaseException) -> BaseException | None:
    """The OSError, sqlite3.Error or StoreError that is `exc` or that it was raised from (SQLAlchemy's `orig` too)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (OSError, sqlite3.Error, StoreError)):
            return current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def _os_error(exc: OSError) -> Fault:
    """`Read-only file system: /path/build.lock`, exit 2 when the path cannot be used at all."""
    text = exc.strerror or str(exc)
    if exc.filename is not None:
        text += f": {os.fsdecode(exc.filename)}"
    if exc.filename2 is not None:
        text += f" -> {os.fsdecode(exc.filename2)}"
    return Fault(text, 2 if exc.errno in UNUSABLE_PATH else 1)


def _sqlite_error(exc: sqlite3.Error) -> Fault:
    """The SQLite message and the Dagster home it is in (SQLite names no file)."""
    home = os.environ.get("DAGSTER_HOME", "the Dagster home")
    text = str(exc).strip() or type(exc).__name__
    read_only = "readonly" in text or "unable to open" in text
    hint = "" if read_only else "; is the disk full?" if "disk" in text or "full" in text else ""
    return Fault(f"Dagster storage (SQLite in {home}) failed: {text}{hint}", 2 if read_only else 1)


def describe_fault(exc: BaseException) -> Fault | None:
    """The one line and exit code for a fault of the machine; None for anything else (a bug: keep its traceback)."""
    cause = root_cause(exc)
    if isinstance(cause, OSError):
        return _os_error(cause)
    if isinstance(cause, sqlite3.Error):
        return _sqlite_error(cause)
    if isinstance(cause, StoreError):
        return Fault(str(cause), 1)
    return None
