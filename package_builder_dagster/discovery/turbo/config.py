"""turbo.json / turbo.jsonc: the root file and package-level files (`extends: ["//"]`) as task definitions.

A (package, task)'s definition is the root's `pkg#task` when there is one, else the root's `task`,
with the package's own turbo.json entry for `task` laid over it field by field (`$TURBO_EXTENDS$`
in a list appends to the root's list instead of replacing it), as turbo 2 resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from package_builder_dagster.discovery.turbo.jsonc import read_jsonc
from package_builder_dagster.errors import UsageError

FILE_NAMES = ("turbo.json", "turbo.jsonc")
DEFAULT_INPUTS = "$TURBO_DEFAULT$"
EXTENDS = "$TURBO_EXTENDS$"
_LISTS = ("dependsOn", "inputs", "outputs", "env", "passThroughEnv")
_BOOLS = ("cache", "persistent")


@dataclass(frozen=True)
class TaskDefinition:
    """One task's resolved settings; `inputs`/`passThroughEnv` None: not given (turbo's defaults)."""

    depends_on: tuple[str, ...] = ()
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    pass_through_env: tuple[str, ...] | None = None
    cache: bool = True
    persistent: bool = False


@dataclass
class TurboConfig:
    """The workspace's turbo settings: root tasks, package-level overrides, global inputs."""

    path: Path  # the root file
    tasks: dict[str, dict[str, Any]]  # root: task or pkg#task → raw definition
    package_tasks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # package dir → task → raw
    global_dependencies: tuple[str, ...] = ()
    global_env: tuple[str, ...] = ()
    global_pass_through_env: tuple[str, ...] | None = None

    def definition(self, package: str, package_path: str, task: str) -> TaskDefinition | None:
        """The definition of `task` for `package` (folder `package_path`), None when turbo.json has none."""
        base = self.tasks.get(f"{package}#{task}", self.tasks.get(task))
        own = self.package_tasks.get(package_path, {}).get(task)
        if base is None and own is None:
            return None
        merged = dict(base or {})
        for key, value in (own or {}).items():
            if key in _LISTS and isinstance(value, list) and EXTENDS in value:
                value = [*(merged.get(key) or []), *(v for v in value if v != EXTENDS)]
            merged[key] = value
        return _definition(merged)


def _definition(raw: dict[str, Any]) -> TaskDefinition:
    def tup(key: str) -> tuple[str, ...] | None:
        return None if raw.get(key) is None else tuple(raw[key])

    return TaskDefinition(depends_on=tup("dependsOn") or (), inputs=tup("inputs"), outputs=tup("outputs") or (),
                          env=tup("env") or (), pass_through_env=tup("passThroughEnv"),
                          cache=raw.get("cache", True), persistent=raw.get("persistent", False))


def find_turbo_file(folder: Path) -> Path | None:
    """turbo.json, else turbo.jsonc, in `folder`; both there is an error, as in turbo."""
    found = [folder / n for n in FILE_NAMES if (folder / n).is_file()]
    if len(found) > 1:
        raise UsageError(f"{folder}: both turbo.json and turbo.jsonc exist; keep one")
    return found[0] if found else None


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: must be a list of strings")
    return value


def _leaves_package(glob: str) -> bool:
    """An output glob that is absolute or climbs out with `..`: the cache would read or write outside the package."""
    path = PurePosixPath(glob.removeprefix("!"))
    return path.is_absolute() or ".." in path.parts or "$TURBO_ROOT$" in glob


def _tasks(data: dict[str, Any], where: str, package_level: bool) -> dict[str, dict[str, Any]]:
    if "pipeline" in data and "tasks" not in data:
        raise UsageError(f"{where}: `pipeline` is turbo 1's name for `tasks` (turbo 2 reads `tasks`); rename it")
    tasks = data.get("tasks", {})
    if not isinstance(tasks, dict):
        raise UsageError(f"{where}: `tasks` must be an object")
    for name, raw in tasks.items():
        at = f"{where}: tasks.{name}"
        if not isinstance(raw, dict):
            raise UsageError(f"{at} must be an object")
        if package_level and "#" in name:
            raise UsageError(f"{at}: a package's turbo.json names its own tasks only (no `pkg#task`)")
        for key in _LISTS:
            if raw.get(key) is not None:
                _strings(raw[key], f"{at}.{key}")
        for glob in raw.get("outputs") or []:
            if _leaves_package(glob):
                raise UsageError(f"{at}.outputs: {glob[:80]!r} leaves the package's folder (outputs are globs inside it)")
        for key in _BOOLS:
            if key in raw and not isinstance(raw[key], bool):
                raise UsageError(f"{at}.{key}: must be true or false")
    return tasks


def load_turbo(root: Path, package_dirs: dict[str, Path]) -> TurboConfig | None:
    """The workspace's turbo settings (None without a root turbo.json/turbo.jsonc); `package_dirs`:
    each package's folder relative path → folder, for package-level files."""
    path = find_turbo_file(root)
    if path is None:
        return None
    where = str(path)
    data = read_jsonc(path, where)
    tasks = _tasks(data, where, package_level=False)
    config = TurboConfig(path=path, tasks=tasks)
    for key, attr in (("globalDependencies", "global_dependencies"), ("globalEnv", "global_env"),
                      ("globalPassThroughEnv", "global_pass_through_env")):
        if data.get(key) is not None:
            config = replace(config, **{attr: tuple(_strings(data[key], f"{where}: {key}"))})
    for rel, folder in package_dirs.items():
        own = find_turbo_file(folder)
        if own is None:
            continue
        pdata = read_jsonc(own, str(own))
        if pdata.get("extends") != ["//"]:
            raise UsageError(f'{own}: a package\'s turbo.json must start from the root\'s: "extends": ["//"]')
        config.package_tasks[rel] = _tasks(pdata, str(own), package_level=True)
    return config
