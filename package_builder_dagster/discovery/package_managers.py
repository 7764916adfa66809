"""Which package manager a workspace uses (npm, pnpm, yarn classic or berry), where its programs are,
and which versions are installed. Plain data; nothing is run but `--version`."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from package_builder_dagster.errors import ToolMissing
from package_builder_dagster.files import read_yaml


@dataclass(frozen=True)
class PackageManager:
    """How to run scripts in one workspace: `kind` is npm, yarn-classic, yarn-berry or pnpm."""

    kind: str
    argv: tuple[str, ...]  # program prefix, e.g. ("pnpm",) or ("node", ".yarn/releases/yarn-4.cjs")
    reason: str  # how it was detected, for messages

    @property
    def tool(self) -> str:
        return self.kind.split("-")[0]

    def run_script(self, script: str, args: list[str] | None = None) -> list[str]:
        """The argument list that runs package script `script` with extra `args`."""
        args = list(args or [])
        if self.kind == "npm":
            return [*self.argv, "run", script, *(["--", *args] if args else [])]
        return [*self.argv, "run", script, *args]


def detect_package_manager(root: Path) -> PackageManager:
    """From the root `packageManager` field, else the lockfile; npm when nothing says otherwise."""
    manifest = json.loads((root / "package.json").read_text())
    field_value = str(manifest.get("packageManager") or "")
    name, _, version = field_value.partition("@")
    kind, reason = "", ""
    if name in ("npm", "pnpm"):
        kind, reason = name, f"packageManager: {field_value}"
    elif name == "yarn":
        kind = "yarn-classic" if version.startswith("1.") else "yarn-berry"
        reason = f"packageManager: {field_value}"
    elif (root / "pnpm-lock.yaml").is_file() or (root / "pnpm-workspace.yaml").is_file():
        kind, reason = "pnpm", "pnpm-lock.yaml"
    elif (root / "yarn.lock").is_file():
        berry = (root / ".yarnrc.yml").is_file() or "__metadata:" in (root / "yarn.lock").read_text()[:2000]
        kind, reason = ("yarn-berry" if berry else "yarn-classic"), "yarn.lock"
    else:
        kind, reason = "npm", "package-lock.json" if (root / "package-lock.json").is_file() else "default"

    if kind == "yarn-berry":
        rc = root / ".yarnrc.yml"
        yarn_path = (read_yaml(rc) or {}).get("yarnPath") if rc.is_file() else None
        if yarn_path and (root / yarn_path).is_file():
            node = _which("node", "yarn berry needs node")
            return PackageManager(kind, (node, str((root / yarn_path).resolve())), reason)
    program = {"npm": "npm", "pnpm": "pnpm", "yarn-classic": "yarn", "yarn-berry": "yarn"}[kind]
    found = _which(program, f"this workspace uses {kind} ({reason})")
    if kind.startswith("yarn"):
        version = installed_version(found)
        beside = Path(found).parent.parent / "yarn" / "bin" / "yarn.js"  # the npm package `yarn` (1.x) installed beside it
        if kind == "yarn-classic" and version and not version.startswith("1.") and (installed_version(str(beside)) or "").startswith("1."):
            return PackageManager(kind, (_which("node", "yarn 1 needs node"), str(beside)), reason)
        if version and (version.startswith("1.") != (kind == "yarn-classic")):
            want = "yarn 1.x" if kind == "yarn-classic" else "yarn 2 or later (or a yarnPath release in .yarnrc.yml)"
            raise ToolMissing(f"missing tool: this workspace uses {kind} ({reason}) and needs {want}, "
                              f"but `yarn` on PATH is {version} ({found})")
    return PackageManager(kind, (found,), reason)


PACKAGE_MANAGER_PACKAGES = ("npm", "pnpm", "yarn", "@yarnpkg/cli-dist")


def installed_version(program: str) -> str | None:
    """A package manager's version, from the package.json of the npm package its real file is in (no
    process); None when that is not a package manager's own package (corepack's shims, a binary)."""
    real = Path(program).resolve()
    for folder in list(real.parents)[:3]:
        manifest = folder / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
            except ValueError:
                return None
            return str(data.get("version") or "") or None if data.get("name") in PACKAGE_MANAGER_PACKAGES else None
    return None


def _which(program: str, why: str) -> str:
    found = shutil.which(program)
    if not found:
        raise ToolMissing(f"missing tool: {program} is not installed or not on PATH ({why})")
    return found


def find_bin(start: Path, root: Path, name: str) -> Path | None:
    """`node_modules/.bin/<name>` in `start` or one of its parents up to `root`."""
    folder = start
    while True:
        candidate = folder / "node_modules" / ".bin" / name
        if candidate.exists():
            return candidate
        if folder == root or folder.parent == folder:
            return None
        folder = folder.parent
