"""Maps a workspace package to its Dagster asset spec (key, deps, group, tags, metadata, checks)."""

from __future__ import annotations

import re

import dagster as dg

from package_builder_dagster.discovery.config import QualityCheck, default_checks
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.execution.fix_agents import file_hash

GATES_CHECK = "quality_gates"  # the one asset check of a package
CHECK_DESCRIPTIONS = {
    "lint": "The package's `lint` script (ESLint) passes with no errors.",
    "typescript": "No TypeScript errors: the build's own tsc diagnostics, or `tsc --noEmit` where the build is not tsc.",
    "coverage": "Line coverage of the test run is at least testing.minCoveragePercent (80 when not set).",
}


def _tag_value(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:63]


class PackageTranslator:
    """Override any `get_*` method to change how packages appear in Dagster."""

    def get_asset_key(self, pkg: Package) -> dg.AssetKey:
        """`[scope, name]` (`[name]` unscoped); characters Dagster cannot name an output with (the
        `~'!()*` of old npm names) become `_`."""
        parts = [pkg.scope, pkg.short_name] if pkg.scope else [pkg.name]
        return dg.AssetKey([re.sub(r"[^A-Za-z0-9_.-]", "_", part) for part in parts])

    def get_group_name(self, pkg: Package) -> str:
        return pkg.category or "packages"

    def get_tags(self, pkg: Package) -> dict[str, str]:
        tags = {"package-builder/layer": str(pkg.layer)}
        if pkg.category:
            tags["package-builder/category"] = _tag_value(pkg.category)
        return tags

    def get_kinds(self, pkg: Package) -> set[str]:
        return {"npm", "typescript"} if (pkg.dir / "tsconfig.json").is_file() else {"npm", "javascript"}

    def get_metadata(self, pkg: Package) -> dict[str, object]:
        meta: dict[str, object] = {
            "package_name": pkg.name,
            "folder": dg.MetadataValue.path(pkg.path),
            "version": pkg.version,
            "category": pkg.category or "none",
            "layer": pkg.layer,
            "scripts": ", ".join(sorted(pkg.scripts)) or "none",
        }
        if pkg.plan_path is not None:
            digest = file_hash(pkg.plan_path)
            meta["plan"] = dg.MetadataValue.path(str(pkg.plan_path))
            meta["plan_exists"] = digest is not None
            meta["plan_sha256"] = digest or "none"
        return meta

    def get_code_version(self, pkg: Package) -> str | None:
        """What makes a materialization out of date when it changes (sources, plan, lockfile entry, settings)."""
        return pkg.code_version

    def get_description(self, pkg: Package) -> str:
        cat = f"{pkg.category} package (layer {pkg.layer})" if pkg.category else f"package (depth {pkg.layer})"
        return f"`{pkg.name}` {cat} at `{pkg.path}`: build → test → quality checks."

    def get_asset_spec(self, pkg: Package, graph: WorkspaceGraph) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=self.get_asset_key(pkg),
            deps=[self.get_asset_key(graph[d]) for d in pkg.dependencies if d in graph.packages],
            group_name=self.get_group_name(pkg),
            tags=self.get_tags(pkg),
            kinds=self.get_kinds(pkg),
            metadata=self.get_metadata(pkg),
            description=self.get_description(pkg),
            code_version=self.get_code_version(pkg),
        )

    def get_check_specs(self, pkg: Package) -> list[dg.AssetCheckSpec]:
        """One asset check, `quality_gates`, for all the package's gates (the config's list, or its own):
        its result lists each gate's, and fails (ERROR, or WARN when only warning gates failed) when one did."""
        gates = "; ".join(f"`{gate.name}`: {self.get_gate_description(gate)}" for gate in pkg.quality_checks or default_checks())
        return [dg.AssetCheckSpec(GATES_CHECK, asset=self.get_asset_key(pkg), description=f"Quality gates. {gates}")]

    def get_gate_description(self, gate: QualityCheck) -> str:
        if gate.builtin:
            description = CHECK_DESCRIPTIONS[gate.builtin]
        elif gate.script:
            description = f"the package's own `{gate.script}` script, read with the `{gate.parser}` parser."
        else:
            description = f"`{' '.join(gate.command or [])}` in the package folder, read with the `{gate.parser}` parser."
        return description + (" Warning only." if gate.warnOnly else "")
