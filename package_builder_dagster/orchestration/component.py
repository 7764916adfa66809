"""`PackageBuilderComponent`: a monorepo's packages as a Dagster Component, for a project put
together with `dg` (Dagster 1.12+), the way dagster-dbt's `DbtProjectComponent` adds a dbt project.

    # <project>/src/<project>/defs/monorepo/defs.yaml
    type: package_builder_dagster.PackageBuilderComponent
    attributes:
      workspace: /path/to/monorepo

The component discovers the workspace each time its definitions load (a plain Component, not a
state-backed one: discovery only reads local files the builds need anyway, and the content hashes it
computes, the code versions and artifact-cache keys, must be fresh on every load). Everything it
needs is in defs.yaml: a run launched from the UI or `dg launch` re-loads the component from there
in its own process. No PACKAGE_BUILDER_* environment variable is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, ValidationError

from package_builder_dagster.discovery.config import (
    _PATH_KEYS,
    BuildConfig,
    UsageError,
    _format_validation_error,
    _get,
    _set,
    default_cache_dir,
    load_config,
)
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.discovery.workspace import discover_for
from package_builder_dagster.orchestration.definitions import build_definitions
from package_builder_dagster.orchestration.translator import PackageTranslator, _tag_value

WORKSPACE_CONFIG = Path("production") / "configs" / "build-env.json"  # what the CLI reads when present


class ComponentTranslator(PackageTranslator):
    """The CLI's translation, with an optional key prefix, one group for every package, and extra
    tags. With no arguments it is exactly `PackageTranslator`."""

    def __init__(self, key_prefix: list[str] | None = None, group_name: str | None = None,
                 tags: Mapping[str, str] | None = None):
        self.key_prefix = list(key_prefix or [])
        self.group_name = group_name
        self.tags = dict(tags or {})

    def get_asset_key(self, pkg: Package) -> dg.AssetKey:
        key = super().get_asset_key(pkg)
        return key.with_prefix(self.key_prefix) if self.key_prefix else key

    def get_group_name(self, pkg: Package) -> str:
        return self.group_name or super().get_group_name(pkg)

    def get_tags(self, pkg: Package) -> dict[str, str]:
        return {**super().get_tags(pkg), **self.tags}


class PackageTranslation(dg.Model, dg.Resolvable):
    """How packages appear in Dagster, on top of the CLI's defaults."""

    key_prefix: str | list[str] | None = Field(
        default=None,
        description="Prefix of every package's asset key: `monorepo` or `a/b` or a list of parts. "
                    "Default: none, so the keys are the CLI's (`[scope, name]`, or `[name]` unscoped).",
        examples=["monorepo", ["acme", "web"]],
    )
    group_name: str | None = Field(
        default=None,
        description="One asset group for every package. Default: the package's category, or `packages`.",
    )
    tags: dict[str, str] | None = Field(
        default=None,
        description="Tags added to every package asset (next to package-builder/category and package-builder/layer).",
        examples=[{"team": "web"}],
    )

    def prefix_parts(self) -> list[str]:
        if self.key_prefix is None:
            return []
        parts = self.key_prefix.split("/") if isinstance(self.key_prefix, str) else list(self.key_prefix)
        if not all(parts):
            raise UsageError(f"translation.key_prefix: empty key part in {self.key_prefix!r}")
        return parts


class _Params(dg.Model):
    workspace: str | None = Field(default=None, description="The monorepo's root folder.")


class PackageBuilderScaffolder(dg.Scaffolder[_Params]):
    """`dg scaffold defs package_builder_dagster.PackageBuilderComponent NAME [--workspace PATH]`:
    a defs.yaml with the workspace (absolute) or a placeholder to edit."""

    @classmethod
    def get_scaffold_params(cls) -> type[_Params]:
        return _Params

    def scaffold(self, request: dg.ScaffoldRequest[_Params]) -> None:
        from dagster.components.component_scaffolding import scaffold_component

        given = request.params.workspace if request.params else None
        workspace = str(Path(given).expanduser().resolve()) if given else "path/to/monorepo"
        if request.scaffold_format != "yaml" or request.append:
            scaffold_component(request, {"workspace": workspace})
            return
        (request.target_path / "defs.yaml").write_text(
            f"type: {request.type_name}\n"
            "\n"
            "attributes:\n"
            "  # The monorepo's root folder (the one with the root package.json). A relative path resolves\n"
            "  # against this folder; `{{ context.project_root }}` and `{{ env.NAME }}` work too.\n"
            f"  workspace: {workspace}\n"
            "  # config: path/to/build-env.json   # or the config inline, as a mapping; default: the\n"
            "  #                                  # workspace's production/configs/build-env.json, else defaults\n"
            "  # grouping: all                    # or per-package (one asset and one step per package)\n"
            "  # translation:\n"
            "  #   key_prefix: monorepo\n"
            "  #   group_name: js_packages\n"
            "  #   tags: {team: web}\n"
        )


def _own_environment() -> dict[str, str]:
    """The environment without PACKAGE_BUILDER_* variables: a component is configured by its defs.yaml
    alone (the config loaders fall back on those variables, the CLI's precedence)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PACKAGE_BUILDER_")}


def _absolute(base: Path, value: str | os.PathLike[str]) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


@dg.scaffold_with(PackageBuilderScaffolder)
class PackageBuilderComponent(dg.Component, dg.Model, dg.Resolvable):
    """Every package of a JS/TS monorepo (npm, pnpm or yarn workspace) as a Dagster asset that builds,
    tests and quality-checks itself, in dependency order; downstream, `suite_verification` and
    `suite_summary`; the `build_packages` job and package-builder's sensors.

    Relative paths (`workspace`, `config`, and path values of an inline config) resolve against the
    folder of the defs.yaml. No PACKAGE_BUILDER_* environment variable is read.
    """

    workspace: str = Field(
        description="The monorepo's root folder (the one with the root package.json). Relative: against the "
                    "defs.yaml's folder.",
        examples=["/srv/monorepo", "{{ context.project_root }}/../monorepo", "{{ env.MONOREPO }}"],
    )
    config: str | dict[str, Any] | None = Field(
        default=None,
        description="The build config: a path to a build-env.json (its relative paths resolve against its own "
                    "folder), or the config inline as a mapping with build-env.json's keys (relative paths "
                    "against the defs.yaml's folder). Default: <workspace>/production/configs/build-env.json "
                    "when present, else the defaults, as the CLI.",
        examples=["build-env.json", {"maxConcurrentBuilds": 2, "testing": {"minCoveragePercent": 70}}],
    )
    grouping: Literal["all", "per-package"] | None = Field(
        default=None,
        description="`all`: one subsettable multi-asset for every package, one step; `per-package`: one asset "
                    "and one step per package. Default: the config's `dagster.grouping` (`all`).",
    )
    translation: PackageTranslation | None = Field(
        default=None,
        description="Key prefix, group and tags of the package assets. Default: exactly the CLI's assets.",
    )

    def get_translator(self) -> PackageTranslator:
        """The translator of this component's packages (override to change more than `translation` can)."""
        t = self.translation
        if t is None or (not t.key_prefix and not t.group_name and not t.tags):
            return PackageTranslator()
        return ComponentTranslator(t.prefix_parts(), t.group_name, {k: _tag_value(v) for k, v in (t.tags or {}).items()})

    def build_config(self, base_dir: Path) -> BuildConfig:
        """The resolved build config, relative paths against `base_dir` (the defs.yaml's folder)."""
        root = _absolute(base_dir, self.workspace)
        overrides: dict[tuple[str, ...], Any] = {("dagster", "grouping"): self.grouping} if self.grouping else {}
        if not isinstance(self.config, dict):
            path = _absolute(base_dir, self.config) if self.config else None
            if path is None and (root / WORKSPACE_CONFIG).is_file():
                path = root / WORKSPACE_CONFIG
            if path is None:  # nothing to read: the defaults, through the same validation as inline
                return self._inline({}, base_dir, root, overrides)
            return load_config(path, overrides, workspace=root, environ=_own_environment())
        return self._inline(self.config, base_dir, root, overrides)

    @staticmethod
    def _inline(given: Mapping[str, Any], base_dir: Path, root: Path,
                overrides: dict[tuple[str, ...], Any]) -> BuildConfig:
        data = dict(given)
        for key in _PATH_KEYS:
            value = _get(data, key)
            if isinstance(value, str):
                _set(data, key, str(_absolute(base_dir, value)))
        for key, value in overrides.items():
            _set(data, key, value)
        data["workspaceRoot"] = str(root)
        try:
            config = BuildConfig.model_validate(data)
        except ValidationError as err:
            raise UsageError(_format_validation_error(err, "the component's config")) from None
        if config.cache.local.dir is None:
            config.cache.local.dir = default_cache_dir(_own_environment())
        if not root.is_dir():
            raise UsageError(f"workspace not found: {root}")
        return config

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        base_dir = context.path if context.path.is_dir() else context.path.parent
        try:
            config = self.build_config(base_dir)
            translator = self.get_translator()
            return build_definitions(config, discover_for(config), translator)
        except UsageError as err:
            raise dg.DagsterInvalidDefinitionError(f"PackageBuilderComponent at {base_dir}: {err}") from None
