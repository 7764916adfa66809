"""npm package names, checked before any of them becomes part of a file name or a command line.

The rules are npm's own (validate-npm-package-name): a name npm rejects even for old packages is an
error, one only old packages may have (capitals, `~'!()*`) is accepted with a warning. On top of
npm's rules this tool refuses what could make a path leave its folder or an argument read as an
option: `..`, a second `/`, a segment that starts with `.` or `-`. A valid name maps to one file
path and back: `@scope/name` → the folder `@scope` and the file or folder `name` (an unscoped name
never starts with `@`, so two names never share a path).
"""

from __future__ import annotations

import re
from pathlib import Path

from package_builder_dagster.errors import InvalidPackageName
from package_builder_dagster.paths import inside

MAX_LENGTH = 214  # npm's limit for new names; a longer one would not fit a file name beside its suffix
_SEGMENT = re.compile(r"^[A-Za-z0-9_.~!*'()-]+$")  # what encodeURIComponent leaves as it is
_LEGACY_CHARACTERS = set("~'!()*")
_RESERVED = {"node_modules", "favicon.ico"}



def _segments(name: str) -> list[str]:
    """`@scope/name` → [scope, name]; `name` → [name]; InvalidPackageName for any other shape."""
    if name.startswith("@"):
        scope, slash, rest = name[1:].partition("/")
        if not slash or not scope or not rest or "/" in rest:
            raise InvalidPackageName("a scoped name is `@scope/name`, with exactly one `/`")
        return [scope, rest]
    if "/" in name:
        raise InvalidPackageName("only a scoped name (`@scope/name`) may contain `/`")
    return [name]


def _problem(name: object) -> str | None:
    """Why npm (or this tool) refuses `name`, or None."""
    if not isinstance(name, str) or not name:
        return "a package name must be a non-empty string"
    if len(name) > MAX_LENGTH:
        return f"it is {len(name)} characters long (npm allows {MAX_LENGTH})"
    if name != name.strip():
        return "it has leading or trailing spaces"
    if name.lower() in _RESERVED:
        return f"{name!r} is a name npm reserves"
    try:
        segments = _segments(name)
    except InvalidPackageName as exc:
        return str(exc)
    for segment in segments:
        if ".." in segment:
            return "it contains `..`"
        if segment[0] in "._-":
            return f"{segment!r} starts with {segment[0]!r}"
        if not _SEGMENT.match(segment):
            bad = next(c for c in segment if not _SEGMENT.match(c))
            return f"it contains {bad!r}, which is not allowed in a URL (npm refuses it)"
    return None


def check_package_name(name: object) -> list[str]:
    """The warnings for a name only old packages may have; InvalidPackageName for one npm refuses."""
    problem = _problem(name)
    if problem:
        raise InvalidPackageName(f"package name {name!r} is not a valid npm name: {problem}")
    assert isinstance(name, str)
    warnings = []
    if name != name.lower():
        warnings.append(f"package name {name!r} has capital letters, which npm allows only for old packages")
    if _LEGACY_CHARACTERS & set(name):
        warnings.append(f"package name {name!r} has one of ~'!()*, which npm allows only for old packages")
    return warnings


def name_parts(name: str) -> list[str]:
    """The checked name's segments as folder and file names: `@scope/name` → [`@scope`, `name`]."""
    check_package_name(name)
    return [f"@{part}" if i == 0 and name.startswith("@") else part for i, part in enumerate(_segments(name))]




def package_path(folder: Path, name: str, suffix: str = "") -> Path:
    """The file or folder for package `name` inside `folder` (`folder/@scope/name<suffix>`): the name is
    checked first, and the path checked to stay inside `folder`."""
    *scope, last = name_parts(name)
    return inside(folder, *scope, last + suffix)
