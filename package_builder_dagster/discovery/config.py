"""The build configuration (the seed's build-env.json) and how it is resolved.

Precedence everywhere: command-line flag, then environment variable, then config file, then default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from package_builder_dagster.errors import UsageError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)


DEFAULT_MIN_COVERAGE = 80.0


class TestingConfig(_Model):
    enableCoverage: bool = True
    # None: not set. The built-in `coverage` check then compares with 80 % but only warns (see
    # BuildConfig.strict_quality); set (to any value, 80 too), it is a gate as in the seed.
    minCoveragePercent: float | None = Field(default=None, ge=0, le=100)
    failOnError: bool = True
    # A test run that fails is run again up to this many times (never a build, a check, a missing tool, a
    # timeout or a cancelled run); one that passes on a retry succeeds its package and is reported flaky.
    retries: int = Field(default=1, ge=0, le=5)

    @property
    def min_coverage(self) -> float:
        """The coverage threshold in use: the configured one, else 80 %."""
        return DEFAULT_MIN_COVERAGE if self.minCoveragePercent is None else self.minCoveragePercent


class PublishingConfig(_Model):
    enabled: bool = False
    dryRun: bool = False
    access: Literal["restricted", "public"] = "restricted"
    requireTests: bool = True
    requireCleanWorkingDirectory: bool = True
    commitFixes: bool = True


PARSERS = ("generic", "eslint", "eslint-json", "tsc", "vitest", "vitest-json", "jest", "jest-json", "coverage-summary", "none")
BUILTIN_CHECKS = ("lint", "typescript", "coverage")


TYPECHECK_SCRIPTS = ("typecheck", "check-types", "tsc")  # a package's own type-check script, first found


class QualityCheck(_Model):
    """One quality gate: a built-in check, a command (argument list, run in the package folder) or a
    package script (run through the package manager), and its parser. `warnOnly`: a failure is a
    warning (asset check severity WARN, a report warning), never a failed package or a fix attempt."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_]+$")
    builtin: Literal["lint", "typescript", "coverage"] | None = None
    command: list[str] | None = Field(default=None, min_length=1)
    script: str | None = Field(default=None, min_length=1)
    parser: Literal[PARSERS] = "generic"  # type: ignore[valid-type]
    timeoutSeconds: int | None = Field(default=None, ge=1)
    warnOnly: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> QualityCheck:
        if sum(kind is not None for kind in (self.builtin, self.command, self.script)) != 1:
            raise ValueError("give exactly one of `builtin`, `command` and `script`")
        return self


def default_checks() -> list[QualityCheck]:
    """The strict gates (the seed's): lint, typescript and coverage, each failing the package."""
    return [QualityCheck(name=name, builtin=name) for name in BUILTIN_CHECKS]


def own_checks(scripts: Mapping[str, str]) -> list[QualityCheck]:
    """The gates when the user chose none: the package's own `lint` script and its own type-check
    script (`typecheck`, `check-types` or `tsc`, parsed as tsc output) fail it; the built-in
    typescript and coverage checks still run, warning only."""
    gates = [QualityCheck(name="lint", builtin="lint")]
    own = next((s for s in TYPECHECK_SCRIPTS if s in scripts), None)
    if own is not None:
        gates.append(QualityCheck(name="typecheck", script=own, parser="tsc"))
    gates += [QualityCheck(name=n, builtin=n, warnOnly=True) for n in ("typescript", "coverage")]
    return gates


class QualityConfig(_Model):
    # None: not set (own checks unless testing.minCoveragePercent is set; see BuildConfig.strict_quality)
    checks: list[QualityCheck] | None = None
    # "strict": the seed's gates (default_checks) even with nothing else set; "own": the repository's
    # own checks (own_checks) even with testing.minCoveragePercent set (then the warnings' threshold).
    preset: Literal["own", "strict"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QualityConfig:
        if self.checks is not None and self.preset is not None:
            raise ValueError("give `preset` or `checks`, not both (a `checks` list is always strict)")
        names = [c.name for c in self.checks or []]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"check names must be unique: {', '.join(duplicates)}")
        return self


class FixAgentConfig(_Model):
    """The fix loop: built-in fixers, then an external coding agent, at most `maxAttempts` attempts."""

    command: list[str] | None = None  # argument list; placeholders as in README
    timeoutSeconds: int = Field(default=900, ge=1)
    maxAttempts: int = Field(default=3, ge=0, le=20)
    promptsDir: Path | None = None  # default <workspace>/.claude/agents/fix-prompts
    maxPromptChars: int = Field(default=20000, ge=500)
    builtinFixers: list[Literal["eslint"]] = Field(default_factory=lambda: ["eslint"])
    fixBuildAndTestFailures: bool = True
    outsideChanges: Literal["revert", "keep"] = "revert"


class PlanAgentConfig(_Model):
    command: list[str] | None = None
    timeoutSeconds: int = Field(default=900, ge=1)


class AgentsConfig(_Model):
    fix: FixAgentConfig = FixAgentConfig()
    plan: PlanAgentConfig = PlanAgentConfig()


class ExecutorConfig(_Model):
    """`dagster.executor`: run each package as its own step on celery workers (README "Scale-out").
    URLs with a password belong in an environment variable: name it in `brokerEnv` / `backendEnv`."""

    type: Literal["celery"] = "celery"
    broker: str | None = None  # e.g. redis://host:6379/0
    brokerEnv: str | None = None  # or: the variable holding the broker URL
    backend: str | None = None  # the result backend; default: the broker
    backendEnv: str | None = None
    config_source: dict[str, Any] = Field(default_factory=dict)  # celery settings, over the safe defaults
    visibilityTimeoutSeconds: int = Field(default=7200, ge=5)  # longer than the longest package (with its install)
    workerLostTimeoutSeconds: float = Field(default=60.0, gt=0)  # no worker answers pings this long: the run fails

    @model_validator(mode="after")
    def _one_broker(self) -> ExecutorConfig:
        if (self.broker is None) == (self.brokerEnv is None):
            raise ValueError("give exactly one of `broker` and `brokerEnv`")
        for name in ("broker", "backend"):
            url = getattr(self, name)
            if url and "@" in url and ":" in url.split("://", 1)[-1].split("@", 1)[0]:
                raise ValueError(f"`{name}` holds a password: put the URL in an environment variable and name it in `{name}Env`")
        return self


class PostgresStorageConfig(_Model):
    urlEnv: str = Field(min_length=1)  # the variable holding postgresql://user:password@host:port/db (never the URL)


class StorageConfig(_Model):
    """`dagster.storage`: where runs, events and schedules are stored (default: SQLite in dagster.home)."""

    postgres: PostgresStorageConfig | None = None


class DagsterConfig(_Model):
    home: Path | None = None
    grouping: Literal["all", "per-package"] = "all"
    executor: ExecutorConfig | None = None  # None: packages run in the run's own process(es)
    storage: StorageConfig = StorageConfig()

    @model_validator(mode="after")
    def _steps_per_package(self) -> DagsterConfig:
        """A distributed executor runs steps: each package is its own (grouping per-package)."""
        if self.executor is not None:
            if "grouping" in self.model_fields_set and self.grouping == "all":
                raise ValueError("`executor` runs one step per package: use grouping \"per-package\" (or leave it out)")
            self.grouping = "per-package"
        return self


class SchedulingConfig(_Model):
    """When a package's tests and checks may start: after its own build (default), or after every
    selected package's build ("build everything, then test"; needs dagster.grouping "all")."""

    testsAfter: Literal["own-build", "all-builds"] = "own-build"


class LocalCacheConfig(_Model):
    """The local artifact store: on by default, under the user's cache directory."""

    enabled: bool = True
    dir: Path | None = None  # default $PACKAGE_BUILDER_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, /package-builder/artifacts
    maxSizeMB: int = Field(default=10240, ge=1)


class RemoteCacheConfig(_Model):
    """A remote store speaking Turborepo's Remote Cache HTTP API (e.g. the open-source turborepo-remote-cache)."""

    url: str | None = None
    team: str | None = None  # `team_…` is sent as teamId, anything else as slug
    tokenEnv: str = "TURBO_TOKEN"  # the environment variable holding the bearer token (never the token itself)
    readOnly: bool = False  # for forks and pull requests: read, never write
    signatureKeyEnv: str | None = None  # environment variable with the HMAC-SHA256 key (x-artifact-tag)
    timeoutSeconds: float = Field(default=10.0, gt=0)


class CacheConfig(_Model):
    local: LocalCacheConfig = LocalCacheConfig()
    remote: RemoteCacheConfig = RemoteCacheConfig()
    env: list[str] = Field(default_factory=list)  # variables whose values (hashed) are part of every cache key
    mode: Literal["local", "remote", "both", "off"] | None = None  # default: both with a remote url, else local


TURBO_PHASES = ("build", "test", "lint", "typescript")


class TurboSettings(_Model):
    """`turbo`: how a workspace's turbo.json maps onto this tool's phases (used only when it has one).
    `phases`: phase → turbo task name(s); a phase left out takes `phases` (build, test), else the default."""

    phases: dict[Literal[TURBO_PHASES], list[str] | str] | None = None  # type: ignore[valid-type]


class BuildConfig(_Model):
    """The seed's build-env.json, with `temporal` replaced by `dagster`."""

    npmRegistry: str = "https://registry.npmjs.org/"
    npmToken: SecretStr | None = None
    workspaceRoot: Path | None = None
    maxConcurrentBuilds: int = Field(default=4, ge=1, le=256)
    testing: TestingConfig = TestingConfig()
    quality: QualityConfig = QualityConfig()
    publishing: PublishingConfig = PublishingConfig()
    dagster: DagsterConfig = DagsterConfig()
    masterPlan: Path | None = None
    buildId: str | None = None
    reportsDir: Path | None = None
    commandTimeoutSeconds: int = Field(default=1800, ge=1)
    phases: dict[Literal["build", "test"], list[str]] = Field(
        default_factory=lambda: {"build": ["build"], "test": ["test"]}
    )
    layerViolations: Literal["error", "warn"] = "error"
    verifyCommand: list[str] | None = None
    plansDir: Path | None = None  # default <workspace>/plans/packages
    agents: AgentsConfig = AgentsConfig()
    undeclaredDependencies: Literal["warn", "error", "order"] = "warn"
    outputs: list[str] | None = None  # output globs for every package (packageBuilder.outputs wins); None: detect
    cache: CacheConfig = CacheConfig()
    scheduling: SchedulingConfig = SchedulingConfig()
    turbo: TurboSettings = TurboSettings()
    configFile: Path | None = None  # the file this config was read from (set by load_config)

    @field_validator("npmRegistry")
    @classmethod
    def _registry_url(cls, value: str) -> str:
        """An http(s) URL with a host, so a typo fails here and not late inside the build."""
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise ValueError(f"not a registry URL (want http:// or https:// and a host): {value!r}")
        return value

    @model_validator(mode="after")
    def _tests_after_needs_one_step(self) -> BuildConfig:
        if self.scheduling.testsAfter == "all-builds" and self.dagster.grouping == "per-package":
            raise ValueError('scheduling.testsAfter "all-builds" needs dagster.grouping "all": in per-package grouping a '
                             "package's step starts only after its dependencies' steps, so no test can wait for every build")
        return self

    # ---- resolved locations -------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self.workspaceRoot is None:
            raise UsageError("no workspace given: pass --workspace, set PACKAGE_BUILDER_WORKSPACE or workspaceRoot")
        return self.workspaceRoot

    @property
    def reports_dir(self) -> Path:
        return self.reportsDir or self.root / "production" / "reports"

    @property
    def plans_dir(self) -> Path:
        return self.root / (self.plansDir or Path("plans") / "packages")

    @property
    def prompts_dir(self) -> Path:
        return self.root / (self.agents.fix.promptsDir or Path(".claude") / "agents" / "fix-prompts")

    @property
    def cache_mode(self) -> str:
        """Which stores a build uses: `cache.mode` (--cache), else both with a remote url, else local."""
        if self.cache.mode:
            return self.cache.mode
        return "both" if self.cache.remote.url else "local"

    @property
    def logs_dir(self) -> Path:
        return self.reports_dir.parent / "logs"

    @property
    def dagster_home(self) -> Path:
        env = os.environ.get("DAGSTER_HOME")
        if env:
            return Path(env).expanduser().resolve()
        return self.dagster.home or self.root / "production" / ".dagster"

    @property
    def strict_quality(self) -> bool:
        """Whether the built-in gates fail packages: `quality.preset` says so, else the user set
        `quality.checks` or `testing.minCoveragePercent` (set at all, whatever the value)."""
        if self.quality.preset is not None:
            return self.quality.preset == "strict"
        return self.quality.checks is not None or self.testing.minCoveragePercent is not None

    def checks_for(self, settings: dict[str, Any], where: str, scripts: Mapping[str, str] | None = None) -> list[QualityCheck]:
        """A package's quality checks: its `packageBuilder.quality.checks` when given, else
        `quality.checks`, else the strict defaults or (nothing chosen) its own checks (`scripts`)."""
        own = (settings.get("quality") or {}).get("checks") if isinstance(settings.get("quality"), dict) else None
        if own is None:
            if self.quality.checks is not None:
                return self.quality.checks
            return default_checks() if self.strict_quality else own_checks(scripts or {})
        try:
            return QualityConfig.model_validate({"checks": own}).checks
        except ValidationError as err:
            raise UsageError(_format_validation_error(err, where)) from None

    def turbo_phases(self) -> dict[str, list[str]]:
        """Phase → turbo task names: `turbo.phases` first, then `phases` (build, test), then the defaults."""
        given = {k: [v] if isinstance(v, str) else list(v) for k, v in (self.turbo.phases or {}).items()}
        defaults = {"build": self.phases.get("build", ["build"]), "test": self.phases.get("test", ["test"]),
                    "lint": ["lint"], "typescript": list(TYPECHECK_SCRIPTS[:2])}
        return {phase: given.get(phase, defaults[phase]) for phase in TURBO_PHASES}

    def portable(self) -> dict[str, Any]:
        """The resolved config as JSON-able data without secrets: what travels with a run (a run's
        stored origin, another process, another machine) to build the same definitions there."""
        return json.loads(self.model_dump_json(exclude={"npmToken"}))

    def redacted(self) -> dict[str, Any]:
        """The config as JSON-able data with the token masked (safe for logs and metadata)."""
        data = json.loads(self.model_dump_json())
        if data.get("npmToken"):
            data["npmToken"] = "***"
        return data


# Path-valued keys that resolve against the config file's folder.
_PATH_KEYS = [("workspaceRoot",), ("masterPlan",), ("reportsDir",), ("dagster", "home"), ("cache", "local", "dir")]

# Environment variables, each overriding one key of the file.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "PACKAGE_BUILDER_WORKSPACE": ("workspaceRoot",),
    "PACKAGE_BUILDER_MASTER_PLAN": ("masterPlan",),
    "PACKAGE_BUILDER_SUITE": ("buildId",),
    "PACKAGE_BUILDER_CONCURRENCY": ("maxConcurrentBuilds",),
    "PACKAGE_BUILDER_REPORTS_DIR": ("reportsDir",),
    "PACKAGE_BUILDER_REGISTRY": ("npmRegistry",),
    "PACKAGE_BUILDER_PUBLISH": ("publishing", "enabled"),
    "PACKAGE_BUILDER_PUBLISH_DRY_RUN": ("publishing", "dryRun"),
    "PACKAGE_BUILDER_CACHE": ("cache", "mode"),
}


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
        if not isinstance(data, dict):
            raise UsageError(f"config error: field '{part}' must be an object")
    data[path[-1]] = value


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _format_validation_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"config error in {source}: unknown key '{field}'"
    return f"config error in {source}: field '{field}': {first['msg'].removeprefix('Value error, ')}"


def _validate(data: dict[str, Any], source: str) -> BuildConfig:
    """`data` as a BuildConfig; a UsageError naming `source` and the first bad field otherwise."""
    try:
        return BuildConfig.model_validate(data)
    except ValidationError as err:
        raise UsageError(_format_validation_error(err, source)) from None


def read_json_object(path: Path, where: str | None = None) -> dict[str, Any]:
    """A JSON file whose top level is an object; a UsageError starting with `where` otherwise."""
    where = where or str(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: the top level must be an object")
    return data


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$PACKAGE_BUILDER_CACHE_DIR, else $XDG_CACHE_HOME/package-builder/artifacts, else ~/.cache/…"""
    environ = os.environ if environ is None else environ
    explicit = environ.get("PACKAGE_BUILDER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "package-builder" / "artifacts"


def find_config_file(config: str | os.PathLike[str] | None, workspace: str | os.PathLike[str] | None,
                     environ: Mapping[str, str] | None = None) -> Path | None:
    """--config, else $PACKAGE_BUILDER_CONFIG, else <workspace>/production/configs/build-env.json when present."""
    environ = os.environ if environ is None else environ
    explicit = config or environ.get("PACKAGE_BUILDER_CONFIG")
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not path.is_file():
            raise UsageError(f"config file not found: {path}")
        return path
    ws = workspace or environ.get("PACKAGE_BUILDER_WORKSPACE")
    if ws:
        candidate = Path(ws).expanduser().resolve() / "production" / "configs" / "build-env.json"
        if candidate.is_file():
            return candidate
    return None


def load_config(
    config: str | os.PathLike[str] | None = None,
    overrides: dict[tuple[str, ...], Any] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> BuildConfig:
    """Resolve the configuration: flags (`overrides`, `workspace`) > environment (`environ`, default
    the process's) > file > defaults."""
    environ = os.environ if environ is None else environ
    path = find_config_file(config, workspace, environ)
    data: dict[str, Any] = {}
    source = "defaults"
    if path:
        source = str(path)
        data = read_json_object(path, f"config error in {path}")
        for key in _PATH_KEYS:
            value = _get(data, key)
            if isinstance(value, str):
                _set(data, key, str((path.parent / Path(value).expanduser()).resolve()))
        _validate(data, source)  # the file on its own: a flag or variable must not hide a bad value in it
    for env, key in ENV_KEYS.items():
        if environ.get(env):
            value: Any = environ[env]
            if key[-1] in {"workspaceRoot", "masterPlan", "reportsDir"}:
                value = str(Path(value).expanduser().resolve())
            _set(data, key, value)
            source = f"{source} + ${env}" if source != "defaults" else f"${env}"
    flags = dict(overrides or {})
    if workspace:
        flags[("workspaceRoot",)] = str(Path(workspace).expanduser().resolve())
    for key, value in flags.items():
        if value is not None:
            _set(data, key, value)
    if any(value is not None for value in flags.values()):
        source = "the command line" if source == "defaults" else f"{source} + the command line"
    cfg = _validate(data, source)
    if path:
        cfg = cfg.model_copy(update={"configFile": path})
    if cfg.cache.local.dir is None:  # resolved here, so it travels with the run
        cfg.cache.local.dir = default_cache_dir(environ)
    if cfg.workspaceRoot is not None:
        root = cfg.workspaceRoot.expanduser().resolve()
        if not root.is_dir():
            raise UsageError(f"workspace not found: {root}")
        if not (root / "package.json").is_file():
            raise UsageError(f"workspace has no package.json: {root}")
        cfg = cfg.model_copy(update={"workspaceRoot": root})
    return cfg
