"""A small generated workspace whose turbo.jsonc covers turbo's task settings, and turbo's own view of it.

Every script is `node ../../record.js <task>`: it writes the task's outputs and, in times/, when it
started and ended (read from the scripts themselves, so a test can check each edge turbo lists).
$TT_SLOW lists `pkg#task`s that take longer, $FAIL_TASK one that fails."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import git_commit_all

RECORD_JS = r"""
const fs = require("fs"), path = require("path");
const task = process.argv[2];
const pkg = require(path.resolve("package.json")).name;
const start = Date.now();
const outputs = {build: "dist", gen: "gen", bundle: "bundle", types: "types"};
setTimeout(() => {
  if (process.env.FAIL_TASK === `${pkg}#${task}`) { console.error(`error: ${task} failed`); process.exit(1); }
  if (outputs[task]) { fs.mkdirSync(outputs[task], {recursive: true}); fs.writeFileSync(path.join(outputs[task], "index.js"), `// ${task}\n`); }
  const times = path.join(__dirname, "times");
  fs.mkdirSync(times, {recursive: true});
  fs.writeFileSync(path.join(times, `${pkg}#${task}.json`), JSON.stringify({start, end: Date.now()}));
}, (process.env.TT_SLOW || "").split(",").includes(`${pkg}#${task}`) ? 1500 : 250);
"""

TURBO_JSONC = """{
  // the workspace's task pipeline: comments and trailing commas, as turbo.jsonc allows
  "$schema": "https://turbo.build/schema.json",
  "globalDependencies": ["shared/*.txt"],
  "globalEnv": ["TT_GLOBAL"],
  "tasks": {
    "build": {
      "dependsOn": ["^build", "gen"],  // code generation first, then the dependencies' builds
      "inputs": ["$TURBO_DEFAULT$", "!README.md"],
      "outputs": ["dist/**"],
      "env": ["TT_BUILD_*"],
    },
    "gen": {"inputs": ["src/**"], "outputs": ["gen/**"]},
    "types": {"dependsOn": ["build"], "outputs": ["types/**"]},
    "bundle": {"dependsOn": ["build"], "outputs": ["bundle/**"]},
    "test": {"dependsOn": ["build"], "passThroughEnv": ["TT_PASS"]},
    /* lint needs nothing before it */
    "lint": {},
    "tt-app#test": {"dependsOn": ["tt-gen#bundle", "build"]},  // another package's bundle
    "tt-leaf#lint": {"dependsOn": ["tt-gen#types"]},  // a package it does not depend on (replaces "lint" for it)
    "dev": {"persistent": true, "cache": false},
  },
}
"""

# name -> (dependencies, scripts, package-level turbo.json or None)
PACKAGES: dict[str, tuple[list[str], list[str], str | None]] = {
    "tt-gen": ([], ["gen", "build", "test", "lint", "bundle", "types", "dev"], None),
    "tt-core": (["tt-gen"], ["build", "test"], """{
  "extends": ["//"],
  "tasks": {
    // only src/ counts for this package
    "build": {"inputs": ["src/**"]},
    "test": {"inputs": ["src/**", "test/**"]},
  },
}"""),
    "tt-app": (["tt-core"], ["build", "test", "lint"], None),
    "tt-esm": (["tt-gen"], ["build", "test"], """{"extends": ["//"], "tasks": {"build": {"dependsOn": ["^build", "^types"]}}}"""),
    "tt-leaf": ([], ["build", "lint"], None),
}


def make_turbo_workspace(root: Path, turbo_jsonc: str = TURBO_JSONC, commit: bool = True) -> Path:
    """Write the workspace (a git repository) and return its root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(json.dumps({"name": "tt-root", "private": True, "workspaces": ["packages/*"],
                                                   "packageManager": "npm@10.9.0"}, indent=2))
    (root / "turbo.jsonc").write_text(turbo_jsonc)
    (root / "record.js").write_text(RECORD_JS)
    (root / ".gitignore").write_text("node_modules/\ndist/\ngen/\nbundle/\ntypes/\ntimes/\n.turbo/\nproduction/\nplans/\n")
    (root / "shared").mkdir(exist_ok=True)
    (root / "shared" / "settings.txt").write_text("one\n")
    for name, (deps, scripts, own) in PACKAGES.items():
        folder = root / "packages" / name
        (folder / "src").mkdir(parents=True, exist_ok=True)
        (folder / "src" / "index.js").write_text(f"module.exports = {name!r};\n")
        (folder / "README.md").write_text(f"# {name}\n")
        manifest = {"name": name, "version": "1.0.0", "private": True,
                    "dependencies": {d: "1.0.0" for d in deps},
                    "scripts": {s: f"node ../../record.js {s}" for s in scripts}}
        (folder / "package.json").write_text(json.dumps(manifest, indent=2))
        if own:
            (folder / "turbo.json").write_text(own)
    return git_commit_all(root) if commit else root


def turbo_dry(root: Path, toolchain: Path, env: dict[str, str] | None = None) -> dict:
    """`turbo run build test lint --dry=json` for the workspace."""
    full = {**os.environ, "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", **(env or {})}
    proc = subprocess.run([str(toolchain / "node_modules" / ".bin" / "turbo"), "run", "build", "test", "lint", "--dry=json"],
                          cwd=root, env=full, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def turbo_runs(dry: dict) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(package, task) → the tasks it depends on, for the tasks turbo runs (those with a script)."""
    def key(task_id: str) -> tuple[str, str]:
        package, task = task_id.split("#", 1)
        return package, task

    return {(t["package"], t["task"]): {key(d) for d in t["dependencies"]}
            for t in dry["tasks"] if t["command"] != "<NONEXISTENT>"}
