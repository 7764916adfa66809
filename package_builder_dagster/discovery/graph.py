"""Workspace discovery (the seed's INITIALIZE) as plain data: packages, categories, layers, order.

Nothing in this module knows about Dagster.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from package_builder_dagster.discovery.config import QualityCheck, read_json_object
from package_builder_dagster.discovery.package_names import InvalidPackageName, check_package_name
from package_builder_dagster.discovery.turbo.model import PackageTurbo, WorkspaceTurbo
from package_builder_dagster.discovery.undeclared_imports import UndeclaredImport
from package_builder_dagster.discovery.version_ranges import unsatisfied_ranges
from package_builder_dagster.errors import UsageError
from package_builder_dagster.files import read_yaml
from package_builder_dagster.paths import inside

CATEGORY_LAYERS: dict[str, int] = {"validator": 0, "core": 1, "utility": 2, "service": 3, "ui": 4, "suite": 5}
# Folder and heading spellings that name a category.
CATEGORY_ALIASES: dict[str, str] = {
    **{c: c for c in CATEGORY_LAYERS},
    "validators": "validator",
    "utilities": "utility",
    "utils": "utility",
    "services": "service",
    "suites": "suite",
}
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
RUNTIME_FIELDS = ("dependencies", "peerDependencies", "optionalDependencies")  # what a consumer installs


@dataclass
class Package:
    """One workspace package, as discovered."""

    name: str
    version: str
    path: str  # folder relative to the workspace root, POSIX style
    dir: Path
    dependencies: list[str]  # internal (workspace) dependencies only
    scripts: dict[str, str]
    category: str | None = None
    layer: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # the package.json `packageBuilder` object
    dependency_ranges: dict[str, str] = field(default_factory=dict)
    runtime_dependencies: list[str] = field(default_factory=list)  # internal, excluding devDependencies
    private: bool = False  # `"private": true`: never published
    plan_path: Path | None = None  # set by assign_plan_paths
    code_version: str | None = None  # set by versions.assign_code_versions
    quality_checks: list[QualityCheck] = field(default_factory=list)  # resolved for this package
    undeclared_imports: list[UndeclaredImport] = field(default_factory=list)  # found in its files
    version_parts: dict[str, str] = field(default_factory=dict)  # the hashes its code version is made of
    output_globs: list[str] | None = None  # declared outputs (packageBuilder.outputs or config); None: detect
    cache_key: str | None = None  # set by discovery.cache_keys.assign_cache_keys
    cache_inputs: dict[str, str] = field(default_factory=dict)  # what the cache key is made of
    turbo: PackageTurbo | None = None  # its tasks from turbo.json (None: no turbo.json, the fixed phases)

    @property
    def scope(self) -> str | None:
        return self.name[1:].split("/", 1)[0] if self.name.startswith("@") and "/" in self.name else None

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "category": self.category,
            "layer": self.layer,
            "dependencies": list(self.dependencies),
            "undeclaredImports": [{"imported": f.imported, "file": f.file, "line": f.line, "via": f.via}
                                  for f in self.undeclared_imports],
            **({"tasks": [t.to_json() for t in self.turbo.tasks]} if self.turbo is not None else {}),
        }


@dataclass
class MasterPlan:
    """The parsed master plan (the seed's audit report): categories and declared dependencies."""

    path: Path
    categories: dict[str, str]  # package name -> category
    dependencies: dict[str, list[str] | None]  # package name -> declared deps (None: not declared)
    suite: str | None = None


@dataclass
class WorkspaceGraph:
    """The packages of a workspace in dependency order, with warnings found on the way."""

    root: Path
    packages: dict[str, Package]  # in dependency order
    warnings: list[str] = field(default_factory=list)
    suite: str | None = None
    turbo: WorkspaceTurbo | None = None  # the workspace's turbo.json settings (None: it has none)

    def __iter__(self):
        return iter(self.packages.values())

    def __len__(self) -> int:
        return len(self.packages)

    def __getitem__(self, name: str) -> Package:
        return self.packages[name]

    def dependents(self, name: str) -> list[str]:
        return [p.name for p in self if name in p.dependencies]

    def upstream(self, names: set[str]) -> set[str]:
        """All transitive dependencies of `names` (not including them)."""
        return self._closure(names, lambda n: self.packages[n].dependencies)

    def downstream(self, names: set[str]) -> set[str]:
        """All transitive dependents of `names` (not including them)."""
        dependents: dict[str, list[str]] = {n: [] for n in self.packages}
        for pkg in self:
            for dep in pkg.dependencies:
                dependents[dep].append(pkg.name)
        return self._closure(names, dependents.__getitem__)

    def runtime_upstream(self, name: str) -> list[str]:
        """Every workspace package `name` needs at run time, directly or through others, in graph order."""
        seen = self._closure({name}, lambda n: [d for d in self.packages[n].runtime_dependencies if d in self.packages])
        return [n for n in self.packages if n in seen]

    @staticmethod
    def _closure(start: set[str], neighbours: Callable[[str], Iterable[str]]) -> set[str]:
        """The one graph walk: everything reachable from `start` through `neighbours` (not `start` itself)."""
        seen: set[str] = set()
        stack = [n for s in start for n in neighbours(s)]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(neighbours(node))
        return seen

    def to_json(self) -> dict[str, Any]:
        return {"packages": [p.to_json() for p in self], "warnings": list(self.warnings)}


# ---- reading the workspace --------------------------------------------------------------

def workspace_patterns(root: Path) -> list[str]:
    """The workspace globs from package.json `workspaces` (array or object) and pnpm-workspace.yaml."""
    manifest = read_json_object(root / "package.json")
    patterns: list[str] = []
    ws = manifest.get("workspaces")
    if isinstance(ws, dict):
        ws = ws.get("packages", [])
    if isinstance(ws, list):
        patterns.extend(str(p) for p in ws)
    pnpm = root / "pnpm-workspace.yaml"
    if pnpm.is_file():
        data = read_yaml(pnpm) or {}
        patterns.extend(str(p) for p in data.get("packages", []) or [])
    if not patterns:
        raise UsageError(f"{root} is not a workspace: package.json has no `workspaces` and there is no pnpm-workspace.yaml")
    return patterns


def _expand(root: Path, patterns: list[str]) -> list[Path]:
    include: dict[Path, None] = {}
    exclude: set[Path] = set()
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip().rstrip("/").removeprefix("./")
        matches = [root] if pat in ("", ".") else list(root.glob(pat))
        for match in sorted(matches):
            if "node_modules" in match.relative_to(root).parts or not (match / "package.json").is_file():
                continue
            (exclude.add(match) if negate else include.setdefault(match, None))
    return [p for p in include if p not in exclude and p != root]


def _folder_category(rel: str) -> str | None:
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == "packages":
        return CATEGORY_ALIASES.get(parts[1].lower())
    return None


def _category(name: str, value: Any, where: str) -> str:
    category = CATEGORY_ALIASES.get(str(value).lower()) if isinstance(value, str) else None
    if category is None:
        known = ", ".join(CATEGORY_LAYERS)
        raise UsageError(f"unknown category {value!r} for {name} in {where} (known: {known})")
    return category


# ---- the master plan ----------------------------------------------------------------------

_NAME = r"@?[A-Za-z0-9][\w.\-]*(?:/[\w.\-]+)?"
_ITEM = re.compile(rf"^\s*[-*]\s+`?(?P<name>{_NAME})`?(?P<rest>.*)$")
_DEPS = re.compile(r"depends on\s*:?\s*(?P<deps>.*)$", re.IGNORECASE)


def parse_master_plan(path: Path) -> MasterPlan:
    """Parse a master plan; the format is documented in production/master-plans/example-suite.md."""
    if not path.is_file():
        raise UsageError(f"master plan not found: {path}")
    categories: dict[str, str] = {}
    dependencies: dict[str, list[str] | None] = {}
    suite = None
    category: str | None = None
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        heading = re.match(r"^##\s+(.+?)\s*$", line)
        if heading:
            title = heading.group(1).strip().lower()
            category = CATEGORY_ALIASES.get(title.split()[0]) if title else None
            if category is None and not title.startswith(("note", "notes")):
                raise UsageError(f"{path}:{lineno}: unknown category heading {heading.group(1)!r}")
            continue
        m = re.match(rf"^\s*suite package\s*:\s*`?({_NAME})`?", line, re.IGNORECASE)
        if m:
            suite = m.group(1)
            continue
        item = _ITEM.match(line)
        if item and category:
            name = item.group("name")
            categories[name] = category
            deps_match = _DEPS.search(item.group("rest"))
            if deps_match:
                raw = deps_match.group("deps").strip()
                dependencies[name] = [] if raw.lower() in ("", "none", "-") else re.findall(_NAME, raw)
            else:
                dependencies[name] = None
    return MasterPlan(path=path, categories=categories, dependencies=dependencies, suite=suite)


# ---- the graph -----------------------------------------------------------------------------

def _order(packages: dict[str, Package]) -> list[str]:
    """Topological order (graphlib), stable by (layer, name) among packages ready together; a cycle
    raises naming its packages."""
    sorter = graphlib.TopologicalSorter({n: p.dependencies for n, p in packages.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        start = cycle.index(min(cycle[:-1]))
        cycle = cycle[start:-1] + cycle[:start] + [cycle[start]]
        raise UsageError("dependency cycle: " + " -> ".join(cycle)) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (packages[n].layer, n))
        order.extend(ready)
        sorter.done(*ready)
    return order


def dependency_order(packages: dict[str, Package]) -> list[str]:
    """The packages' names in dependency order (see `_order`)."""
    return _order(packages)


def _depths(packages: dict[str, Package], order: list[str]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for name in order:
        depth[name] = 1 + max((depth[d] for d in packages[name].dependencies), default=-1)
    return depth


def discover(
    root: Path,
    master_plan: Path | None = None,
    suite: str | None = None,
    layer_violations: str = "error",
    undeclared: str = "warn",
) -> WorkspaceGraph:
    """Read the workspace at `root` into a WorkspaceGraph (optionally narrowed to one suite).

    `undeclared` says what an import of a workspace package that package.json does not declare does:
    `warn`, `error` (UsageError), or `order` (a build-order edge, unless it would close a cycle);
    `skip` does not look (for callers that need only the code versions)."""
    root = root.resolve()
    if not (root / "package.json").is_file():
        raise UsageError(f"workspace has no package.json: {root}")
    warnings: list[str] = []
    plan = parse_master_plan(master_plan) if master_plan else None
    found, manifests = _read_packages(root, warnings)
    _link(found, manifests, plan)
    if plan:
        warnings.extend(_plan_differences(plan, found))
    warnings.extend(unsatisfied_ranges(found))
    warnings.extend(_undeclared_imports(root, found, manifests, undeclared))
    _assign_layers(found)
    warnings.extend(_layer_violations(found, layer_violations))
    graph = WorkspaceGraph(root=root, packages={n: found[n] for n in _order(found)}, warnings=warnings)
    return select_suite(graph, suite) if suite else graph


def _read_packages(root: Path, warnings: list[str]) -> tuple[dict[str, Package], dict[str, dict[str, Any]]]:
    """Every workspace folder's package (by name) and its package.json; a folder without a name is warned about."""
    found: dict[str, Package] = {}
    manifests: dict[str, dict[str, Any]] = {}
    for folder in _expand(root, workspace_patterns(root)):
        manifest = read_json_object(folder / "package.json")
        rel = folder.relative_to(root).as_posix()
        name = manifest.get("name")
        if name is None:
            warnings.append(f"{rel}/package.json has no name; skipped")
            continue
        try:
            warnings.extend(f"{rel}/package.json: {w}" for w in check_package_name(name))
        except InvalidPackageName as exc:
            raise InvalidPackageName(f"{rel}/package.json: {exc}") from None
        _check_unique(found, name, rel)
        found[name] = _package(name, rel, folder, manifest)
        manifests[name] = manifest
    if not found:
        raise UsageError(f"no packages found in workspace {root}")
    return found, manifests


def _check_unique(found: dict[str, Package], name: str, rel: str) -> None:
    """Two packages may not share a name, nor differ only in case (one file on a case-insensitive disk)."""
    if name in found:
        raise UsageError(f"two packages are named {name}: {found[name].path} and {rel}")
    twin = next((other for other in found if other.lower() == name.lower()), None)
    if twin:
        raise UsageError(f"two package names differ only in case: {twin} ({found[twin].path}) and {name} ({rel})")


def _package(name: str, rel: str, folder: Path, manifest: dict[str, Any]) -> Package:
    """The package a package.json describes, before its dependencies are linked."""
    settings = manifest.get("packageBuilder") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"{rel}/package.json: `packageBuilder` must be an object")
    scripts = manifest.get("scripts") or {}
    return Package(
        name=name,
        version=str(manifest.get("version", "0.0.0")),
        path=rel,
        dir=folder,
        dependencies=[],
        scripts={k: str(v) for k, v in scripts.items()} if isinstance(scripts, dict) else {},
        settings=settings,
        private=manifest.get("private") is True,
    )


def _link(found: dict[str, Package], manifests: dict[str, dict[str, Any]], plan: MasterPlan | None) -> None:
    """Each package's workspace dependencies (with their ranges) and its category: the plan's, its
    folder's, or its own `packageBuilder.category`."""
    for name, pkg in found.items():
        ranges: dict[str, str] = {}
        for fld in DEPENDENCY_FIELDS:
            for dep, rng in (manifests[name].get(fld) or {}).items():
                if dep in found and dep != name:
                    ranges.setdefault(dep, str(rng))
        pkg.dependency_ranges = ranges
        pkg.dependencies = sorted(ranges)
        pkg.runtime_dependencies = sorted(
            {dep for fld in RUNTIME_FIELDS for dep in (manifests[name].get(fld) or {}) if dep in found and dep != name}
        )
        if plan and name in plan.categories:
            pkg.category = plan.categories[name]
        elif _folder_category(pkg.path):
            pkg.category = _folder_category(pkg.path)
        elif "category" in pkg.settings:
            pkg.category = _category(name, pkg.settings["category"], f"{pkg.path}/package.json packageBuilder.category")


def _undeclared_imports(root: Path, found: dict[str, Package], manifests: dict[str, dict[str, Any]], undeclared: str) -> list[str]:
    """Find the imports of workspace packages that package.json does not declare and act on them as
    `undeclared` says; the warnings they give."""
    declared = {name: {d for fld in DEPENDENCY_FIELDS for d in (manifests[name].get(fld) or {})} for name in found}
    from package_builder_dagster.discovery.undeclared_imports import find_undeclared_imports

    findings = [] if undeclared == "skip" else find_undeclared_imports([(n, p.dir, declared[n]) for n, p in found.items()], root)
    for finding in findings:
        found[finding.importer].undeclared_imports.append(finding)
    if findings and undeclared == "error":
        raise UsageError("undeclared workspace imports (undeclaredDependencies is \"error\"): "
                         + "; ".join(f.message() for f in findings))
    if undeclared == "order":
        return _order_edges(found, findings)
    return [f"undeclared import: {f.message()}" for f in findings]


def _assign_layers(found: dict[str, Package]) -> None:
    """A package's layer is its category's, or else its depth in the graph."""
    order = _order(found)
    depths = _depths(found, order)
    for name in order:
        pkg = found[name]
        pkg.layer = CATEGORY_LAYERS[pkg.category] if pkg.category else depths[name]


def _layer_violations(found: dict[str, Package], layer_violations: str) -> list[str]:
    """A categorized package that depends on one of a higher layer: an error, or a warning when
    `layer_violations` is not "error"."""
    warnings = []
    for pkg in found.values():
        if not pkg.category:
            continue
        for dep in pkg.dependencies:
            other = found[dep]
            if other.category and other.layer > pkg.layer:
                msg = (
                    f"layer violation: {pkg.name} ({pkg.category}, layer {pkg.layer}) depends on "
                    f"{dep} ({other.category}, layer {other.layer})"
                )
                if layer_violations == "error":
                    raise UsageError(msg)
                warnings.append(msg)
    return warnings


def _order_edges(found: dict[str, Package], findings: list[Any]) -> list[str]:
    """Add each undeclared import as a build-order edge; an edge that would close a cycle stays out."""
    warnings = []
    for finding in findings:
        importer = found[finding.importer]
        if finding.imported in importer.dependencies:
            continue
        cycle = _path(found, finding.imported, finding.importer)
        if cycle:
            warnings.append(f"undeclared import kept out of the build order, it would close the cycle "
                            f"{' -> '.join([finding.importer, *cycle])}: {finding.message()}")
            continue
        importer.dependencies = sorted({*importer.dependencies, finding.imported})
        warnings.append(f"undeclared import ordered as a dependency: {finding.message()}")
    return warnings


def _path(found: dict[str, Package], start: str, goal: str) -> list[str] | None:
    """A dependency path start -> ... -> goal, or None."""
    stack, seen = [[start]], {start}
    while stack:
        path = stack.pop()
        if path[-1] == goal:
            return path
        for dep in found[path[-1]].dependencies:
            if dep not in seen:
                seen.add(dep)
                stack.append([*path, dep])
    return None


def _plan_differences(plan: MasterPlan, found: dict[str, Package]) -> list[str]:
    diffs: list[str] = []
    for name in plan.categories:
        if name not in found:
            diffs.append(f"master plan lists {name}, which is not in the workspace")
    for name, declared in plan.dependencies.items():
        if name not in found or declared is None:
            continue
        actual = set(found[name].dependencies)
        missing, extra = sorted(actual - set(declared)), sorted(set(declared) - actual)
        if missing or extra:
            parts = []
            if missing:
                parts.append("package.json also has " + ", ".join(missing))
            if extra:
                parts.append("the plan also has " + ", ".join(extra))
            diffs.append(f"master plan and package.json disagree on {name}: " + "; ".join(parts))
    return diffs


def assign_plan_paths(graph: WorkspaceGraph, plans_dir: Path) -> None:
    """`<plansDir>/<category>/<short-name>.md` (no category: `<plansDir>/<short-name>.md`); where two
    packages would share that path (one short name, two scopes), each gets `.../@scope/<short-name>.md`."""
    def path(pkg: Package, *scope: str) -> Path:
        return inside(plans_dir, *([pkg.category] if pkg.category else []), *scope, f"{pkg.short_name}.md")

    taken: dict[Path, int] = {}
    for pkg in graph:
        taken[path(pkg)] = taken.get(path(pkg), 0) + 1
    for pkg in graph:
        pkg.plan_path = path(pkg, f"@{pkg.scope}") if taken[path(pkg)] > 1 and pkg.scope else path(pkg)


def select_suite(graph: WorkspaceGraph, suite: str) -> WorkspaceGraph:
    """Narrow the graph to the suite package named `suite` (full or short name) and all it needs."""
    matches = [p.name for p in graph if p.name == suite or p.short_name == suite]
    if not matches:
        raise UsageError(f"suite {suite!r} not found among the workspace's {len(graph)} packages")
    if len(matches) > 1:
        raise UsageError(f"suite {suite!r} is ambiguous: {', '.join(matches)}")
    keep = {matches[0]} | graph.upstream({matches[0]})
    packages = {n: p for n, p in graph.packages.items() if n in keep}
    return WorkspaceGraph(root=graph.root, packages=packages, warnings=graph.warnings, suite=matches[0])
