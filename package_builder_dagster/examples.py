"""Generates example monorepos: real TypeScript packages (tsc, vitest with coverage, eslint) or
cheap `node` scripts, over the seed's layers, with optional injected failures.

Used by the demo, the tests and the benchmarks.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

CATEGORY_FOLDERS = {"validator": "validators", "core": "core", "utility": "utilities", "service": "services", "ui": "ui", "suite": "suites"}


@dataclass
class PackageSpec:
    short: str
    category: str | None = None
    deps: list[str] = field(default_factory=list)  # short names
    inject: set[str] = field(default_factory=set)
    sleep_ms: int = 0  # trivial packages only: how long the build takes


def example_suite() -> list[PackageSpec]:
    """Eight packages across the six layers, the suite on top."""
    return [
        PackageSpec("validate-email", "validator"),
        PackageSpec("validate-url", "validator"),
        PackageSpec("backoff-strategy", "core", ["validate-url"]),
        PackageSpec("retry-policy", "core", ["backoff-strategy"]),
        PackageSpec("http-client", "utility", ["retry-policy", "validate-url"]),
        PackageSpec("notifier", "service", ["http-client", "validate-email"]),
        PackageSpec("dashboard", "ui", ["notifier"]),
        PackageSpec("example-suite", "suite", ["dashboard", "notifier", "validate-email"]),
    ]


def layered_specs(count: int, seed: int = 7, categories: bool = True) -> list[PackageSpec]:
    """`count` packages spread over the six layers, each depending on up to three lower ones."""
    rng = random.Random(seed)
    cats = ["validator", "core", "utility", "service", "ui", "suite"]
    weights = [0.15, 0.25, 0.25, 0.2, 0.13, 0.02]
    specs: list[PackageSpec] = []
    for i in range(count):
        layer = 0 if i < max(1, count // 10) else rng.choices(range(6), weights)[0]
        if i == count - 1:
            layer = 5
        lower = [s for s in specs if cats.index(s.category or "validator") < layer] or []
        deps = sorted({s.short for s in rng.sample(lower, min(len(lower), rng.randint(1, 3)))}) if lower else []
        specs.append(PackageSpec(f"{cats[layer]}-{i:04d}", cats[layer] if categories else None, deps))
    return specs


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _folder(spec: PackageSpec) -> str:
    return f"packages/{CATEGORY_FOLDERS[spec.category]}/{spec.short}" if spec.category else f"packages/{spec.short}"


def generate(
    root: Path,
    specs: list[PackageSpec],
    *,
    kind: str = "typescript",
    scope: str = "ex",
    package_manager: str = "npm",
    toolchain: Path | None = None,
    category_source: str = "folder",
) -> Path:
    """Write a monorepo at `root`. `kind` is typescript or trivial; `package_manager` is npm, pnpm
    or yarn-berry; `toolchain` is a folder whose node_modules is linked into TypeScript npm
    workspaces (no install needed; never run `npm install` over the links);
    `category_source` is folder (packages/<category>/<name>) or field (packageBuilder.category)."""
    root.mkdir(parents=True, exist_ok=True)
    by_short = {s.short: s for s in specs}
    dep_range = "^1.0.0" if package_manager == "npm" else "workspace:*"  # npm publishes ranges as written
    root_pkg: dict = {"name": f"{scope}-monorepo", "private": True, "version": "0.0.0", "scripts": {}}
    if package_manager == "pnpm":
        _write(root / "pnpm-workspace.yaml", "packages:\n  - 'packages/**'\n")
    else:
        root_pkg["workspaces"] = ["packages/*", "packages/*/*"]
    if package_manager == "npm":
        root_pkg["packageManager"] = "npm@10.0.0"
    if package_manager == "yarn-berry":
        release = _yarn_release(toolchain)
        (root / ".yarn" / "releases").mkdir(parents=True, exist_ok=True)
        shutil.copy(release, root / ".yarn" / "releases" / "yarn-4.cjs")
        _write(root / ".yarnrc.yml",
               "yarnPath: .yarn/releases/yarn-4.cjs\nnodeLinker: node-modules\nenableTelemetry: false\nenableGlobalCache: false\n")
        root_pkg["packageManager"] = "yarn@4.0.0"
    _write(root / ".gitignore", "node_modules/\ndist/\ncoverage/\nproduction/\n.yarn/*\n!.yarn/releases\n*.log\n")
    if kind == "typescript":
        _write(root / "eslint.config.mjs", ESLINT_CONFIG)
    else:
        _write(root / "scripts" / "fake-step.js", FAKE_STEP)
    _write(root / "package.json", json.dumps(root_pkg, indent=2) + "\n")

    for spec in specs:
        folder = root / (_folder(spec) if category_source == "folder" else f"packages/{spec.short}")
        deps = {f"@{scope}/{d}": dep_range for d in spec.deps}
        manifest: dict = {"name": f"@{scope}/{spec.short}", "version": "1.0.0", "license": "MIT", "dependencies": deps}
        if category_source == "field" and spec.category:
            manifest["packageBuilder"] = {"category": spec.category}
        if kind == "typescript":
            manifest.update({"type": "module", "main": "dist/index.js", "types": "dist/index.d.ts", "files": ["dist"]})
            manifest["scripts"] = {"build": "tsc -p tsconfig.json", "test": "vitest run", "lint": "eslint src"}
            _typescript_package(folder, spec, scope, by_short)
        else:
            rel = os.path.relpath(root / "scripts" / "fake-step.js", folder)
            dep_dirs = [os.path.relpath(root / (_folder(by_short[d]) if category_source == "folder" else f"packages/{d}"), folder) for d in spec.deps]
            build_fail = "fail" if "build-fail" in spec.inject else "ok"
            test_fail = "fail" if "test-fail" in spec.inject else "ok"
            manifest.update({"main": "dist/index.js", "files": ["dist"]})
            manifest["scripts"] = {
                "build": " ".join(["node", rel, "build", build_fail, str(spec.sleep_ms), *dep_dirs]),
                "test": " ".join(["node", rel, "test", test_fail, "0"]),
            }
            folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "package.json", json.dumps(manifest, indent=2) + "\n")
    if toolchain and kind == "typescript" and package_manager == "npm":
        link_node_modules(root, toolchain, scope, specs, category_source)
    return root


def _yarn_release(toolchain: Path | None) -> Path:
    candidates = [toolchain / "node_modules" / "@yarnpkg" / "cli-dist" / "bin" / "yarn.js"] if toolchain else []
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError("yarn berry release not found: install the toolchain (toolchain/package.json)")


def link_node_modules(root: Path, toolchain: Path, scope: str, specs: list[PackageSpec], category_source: str = "folder") -> None:
    """Lay out node_modules as an npm workspace install would, linking the shared toolchain."""
    nm = root / "node_modules"
    nm.mkdir(exist_ok=True)
    for entry in (toolchain / "node_modules").iterdir():
        if entry.name == f"@{scope}" or entry.name.startswith(".package-lock"):
            continue
        target = nm / entry.name
        if not target.exists() and not target.is_symlink():
            target.symlink_to(entry.resolve())
    (nm / f"@{scope}").mkdir(exist_ok=True)
    for spec in specs:
        link = nm / f"@{scope}" / spec.short
        folder = root / (_folder(spec) if category_source == "folder" else f"packages/{spec.short}")
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(folder, link.parent))


def _typescript_package(folder: Path, spec: PackageSpec, scope: str, by_short: dict[str, PackageSpec]) -> None:
    fn = spec.short.replace("-", "_")
    imports = "".join(f'import {{ {d.replace("-", "_")} }} from "@{scope}/{d}";\n' for d in spec.deps)
    calls = " + ".join([f'{d.replace("-", "_")}(n)' for d in spec.deps] or ["0"])
    body = f"""{imports}
/** Adds one to `n`, plus what its dependencies make of it. */
export function {fn}(n: number): number {{
  return n + 1 + ({calls}) * 0;
}}

export function describe_{fn}(label: string): string {{
  return `${{label}}:{spec.short}`;
}}
"""
    if "type-error" in spec.inject:
        body += '\nexport const broken: number = "not a number";\n'
    if "lint-error" in spec.inject:
        body += "\nexport function withUnused(): number {\n  const unusedValue = 42;\n  return 1;\n}\n"
    if "lint-fixable" in spec.inject:  # no-extra-boolean-cast: `eslint --fix` repairs it
        body += "\nexport function isSet(n: number): boolean {\n  if (!!n) {\n    return true;\n  }\n  return false;\n}\n"
    if "low-coverage" in spec.inject:
        branches = "\n".join(f"  if (n === {i}) {{\n    return n * {i + 2};\n  }}" for i in range(40))
        body += f"\nexport function uncovered(n: number): number {{\n{branches}\n  return -n;\n}}\n"
    _write(folder / "src" / "index.ts", body)
    expected = 3 if "failing-test" in spec.inject else 2
    _write(folder / "test" / "index.test.ts", textwrap.dedent(f"""\
        import {{ describe, expect, it }} from "vitest";
        import {{ {fn}, describe_{fn} }} from "../src/index";

        describe("{spec.short}", () => {{
          it("adds one", () => {{
            expect({fn}(1)).toBe({expected});
          }});
          it("describes itself", () => {{
            expect(describe_{fn}("x")).toBe("x:{spec.short}");
          }});
        }});
        """))
    _write(folder / "tsconfig.json", json.dumps({
        "compilerOptions": {
            "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "declaration": True,
            "outDir": "dist", "rootDir": "src", "strict": True, "skipLibCheck": True, "types": [],
        },
        "include": ["src"],
    }, indent=2) + "\n")
    _write(folder / "vitest.config.mjs",
           'export default { test: { include: ["test/**/*.test.ts"], coverage: { provider: "v8", include: ["src/**"] } } };\n')


ESLINT_CONFIG = """\
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/coverage/**", "**/node_modules/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
);
"""

# A cheap stand-in for a real toolchain step: records start/end in ../build-events.log, checks its
# dependencies were built first, sleeps, and fails on request.
FAKE_STEP = """\
const fs = require("fs");
const path = require("path");
const [step, outcome, sleepMs, ...deps] = process.argv.slice(2);
const name = JSON.parse(fs.readFileSync("package.json", "utf8")).name;
const events = path.join(__dirname, "..", "build-events.log");
fs.appendFileSync(events, `${Date.now()} start ${step} ${name}\\n`);
fs.appendFileSync(path.join(__dirname, "..", "pids.log"), `${process.pid}\\n`);
for (const dep of deps) {
  if (!fs.existsSync(path.join(dep, "dist", "index.js"))) {
    console.error(`error: dependency ${dep} was not built before ${name}`);
    process.exit(2);
  }
}
setTimeout(() => {
  if (outcome === "fail") {
    console.error(`Error: injected ${step} failure in ${name}`);
    process.exit(1);
  }
  if (step === "build") {
    fs.mkdirSync("dist", { recursive: true });
    fs.writeFileSync(path.join("dist", "index.js"), "module.exports = 1;\\n");
  }
  fs.appendFileSync(events, `${Date.now()} end ${step} ${name}\\n`);
  console.log(`${step} ok: ${name}`);
}, Number(sleepMs) || 0);
"""
