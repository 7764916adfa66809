"""Workspace dependencies whose semver range the workspace package's version does not satisfy.

The dependency stays a build-order edge (the workspace copy is what gets built and linked); the
mismatch becomes a discovery warning, since npm would install the range from the registry instead.
Ranges are npm's (^, ~, x, ||, hyphen ranges), read by node-semver's Python port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from package_builder_dagster.discovery.graph import Package


def is_semver_range(spec: str) -> bool:
    """Whether `spec` is an npm semver range (not a protocol such as workspace:, file:, link:, npm:, a tag or a URL)."""
    if ":" in spec or "/" in spec:
        return False
    import nodesemver  # here, not at import: discovery's fast paths stay light

    try:
        return nodesemver.valid_range(spec, loose=False) is not None
    except (ValueError, TypeError):
        return False


def satisfied(version: str, spec: str) -> bool:
    """Whether `version` satisfies the npm range `spec`; True when either is not semver (nothing to say)."""
    if not is_semver_range(spec):
        return True
    import nodesemver

    try:
        if nodesemver.valid(version, loose=False) is None:
            return True
        return bool(nodesemver.satisfies(version, spec, loose=False))
    except (ValueError, TypeError):
        return True


def unsatisfied_ranges(packages: Mapping[str, Package]) -> list[str]:
    """One warning per workspace dependency whose range its workspace version does not satisfy."""
    warnings = []
    for name, pkg in packages.items():
        for dep, spec in sorted(pkg.dependency_ranges.items()):
            version = packages[dep].version
            if not satisfied(version, spec):
                warnings.append(f"version range not satisfied: {name} depends on {dep} \"{spec}\", but the workspace's "
                                f"{dep} is {version}; the workspace package is built and used (npm would install "
                                f"{dep}@{spec} from the registry)")
    return warnings
