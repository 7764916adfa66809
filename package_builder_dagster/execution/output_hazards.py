"""Tasks that race on build outputs, and the holds that keep them apart (issue 21, point 2).

Two hazards the scheduler's task graph does not show:

- a task that **rewrites a package's outputs after its build**: a test, lint or check script (or
  its `pre`/`post` script) that runs the package's build (`npm run build && vitest run`), a build
  tool (`tsc` without `--noEmit`, `tsc -b`, `tsup`, `vite build`, `rollup`, ...) or removes an
  output folder (`rimraf dist`, `rm -rf dist`). While it runs, a dependent's build or test that
  reads those outputs can find them missing or half written;
- **`tsc -b` builds that reach one referenced project** (`references` in tsconfig.json, followed
  to the end): each may rebuild that project's outputs at the same time.

Found from three sources, combined: the script text (before anything runs, so the first run is
safe), what an earlier run saw (`rewrote_outputs` in the package's latest record: a task whose
outputs changed under it though its script does not say so, e.g. `node scripts/test.js`), and
this run's own observation (the outputs' stat signature before and after each task,
`execution.package_tasks`), which warns and is recorded for the next run.

The result is a `Hold` per task for the scheduler: exclusive on `outputs:<package>` for a task that
rewrites them, shared on `outputs:<dependency>` for every task of a dependent that reads them
(its build, tests, checks and fix loop; dependencies followed transitively, only those that have
such a writer), exclusive on `tsc:<tsconfig path>` for every project a `tsc -b` reaches (and for
the build of the package that owns such a project). No Dagster here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from package_builder_dagster.cache.outputs import WELL_KNOWN
from package_builder_dagster.discovery.turbo.jsonc import strip_jsonc

SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", "\n", ";;", "|&"}
# Programs that write build outputs whatever their arguments (a few need a subcommand, below).
BUILD_TOOLS = {"tsup", "tsdown", "unbuild", "microbundle", "pkgroll", "rollup", "webpack", "rspack", "rslib",
               "bunchee", "tsc-alias", "babel-node-build", "ng-packagr", "svelte-package", "vue-tsc"}
SUBCOMMAND_TOOLS = {"vite": "build", "parcel": "build", "ncc": "build", "nest": "build", "next": "build",
                    "astro": "build", "svelte-kit": "sync", "rsbuild": "build", "electron-vite": "build"}
OUT_FLAGS = {"-d", "--out-dir", "--outdir", "--outfile", "--out-file", "-o", "--outDir"}
REMOVERS = {"rimraf", "del", "del-cli", "trash", "rm", "premove"}
WRAPPERS = {"npx", "bunx", "cross-env", "env", "dotenv", "time", "nice", "nohup", "cross-env-shell"}
MONOREPO_RUNNERS = {"turbo", "nx", "lerna", "wireit"}
PM_BUILTINS = {"install", "i", "add", "remove", "exec", "dlx", "test", "t", "publish", "pack", "ci", "link", "why", "info",
               "outdated", "update", "up", "rebuild", "audit", "config", "set", "init", "create", "x"}


@dataclass(frozen=True)
class Hold:
    """What a task holds on outputs while it runs: shared (reads), exclusive (rewrites), and why."""

    shared: frozenset[str] = frozenset()
    exclusive: frozenset[str] = frozenset()
    reason: str | None = None

    def __bool__(self) -> bool:
        return bool(self.shared or self.exclusive)


@dataclass
class Finding:
    """What one task's commands do to outputs."""

    rewrites: str | None = None  # why it rewrites the package's outputs (None: it does not, as far as the text says)
    tsc_builds: list[list[str]] = field(default_factory=list)  # each `tsc -b`'s project arguments


# ---- reading script text -----------------------------------------------------------------------

def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: a plain split is good enough to look for program names
        return command.replace("&&", " && ").replace(";", " ; ").split()


def segments(command: str) -> list[list[str]]:
    """The simple commands of a shell command line, each as its words."""
    found: list[list[str]] = []
    current: list[str] = []
    for token in _tokens(command):
        if token in SEPARATORS or set(token) <= set(";&|()"):
            if current:
                found.append(current)
            current = []
        else:
            current.append(token)
    if current:
        found.append(current)
    return found


def _program(words: list[str]) -> list[str]:
    """The words from the program on: environment assignments and wrappers (`npx`, `cross-env`) left out."""
    i = 0
    while i < len(words):
        w = words[i]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            i += 1
        elif os.path.basename(w) in WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):  # npx -y, dotenv -e .env --
                i += 2 if words[i] in ("-e", "-p", "--package", "-c") else 1
        elif w in ("pnpm", "yarn", "bun") and i + 1 < len(words) and words[i + 1] in ("exec", "dlx", "x"):
            i += 2
        else:
            break
    return words[i:]


def _base(word: str) -> str:
    return os.path.basename(word).removesuffix(".cmd").removesuffix(".js")


def _output_like(target: str, output_tops: set[str]) -> bool:
    first = target.removeprefix("./").split("/")[0].rstrip("*")
    return bool(first) and (first in output_tops or any(fnmatch.fnmatch(first, pat) for pat in WELL_KNOWN))


def _script_calls(words: list[str], scripts: Mapping[str, str]) -> list[str]:
    """Package scripts a command runs: `npm run x`, `pnpm x`, `yarn run x`, `run-s a b`, `npm-run-all x:*`."""
    prog = _base(words[0]) if words else ""
    rest = words[1:]
    if prog in ("npm", "pnpm", "yarn", "bun"):
        args = [w for w in rest if not w.startswith("-")]
        if args and args[0] in ("run", "run-script", "rs"):
            return args[1:2]
        if args and prog != "npm" and args[0] not in PM_BUILTINS and args[0] in scripts:
            return args[:1]  # `pnpm build`, `yarn build`
        if args and args[0] in ("test", "t") and prog != "bun":
            return ["test"]
        return []
    if prog in ("run-s", "run-p", "npm-run-all", "npm-run-all2"):
        called = []
        for pattern in (w for w in rest if not w.startswith("-")):
            called += [s for s in scripts if fnmatch.fnmatch(s, pattern)]
        return called
    return []


def analyze(command: str, scripts: Mapping[str, str], build_scripts: Iterable[str], output_tops: Iterable[str] = (),
            label: str = "", seen: frozenset[str] = frozenset()) -> Finding:
    """What `command` (a package's script text or a check's command) does to the package's outputs,
    following the package scripts it runs (with their `pre`/`post` scripts)."""
    builds, tops = set(build_scripts), set(output_tops)
    found = Finding()
    for words in segments(command):
        words = _program(words)
        if not words:
            continue
        prog, args = _base(words[0]), words[1:]
        why = None
        for name in _script_calls(words, scripts):
            if name in builds:
                why = why or f"runs the build (`{' '.join(words)}`)"
            for hook in (f"pre{name}", name, f"post{name}"):
                if hook in scripts and hook not in seen:
                    inner = analyze(scripts[hook], scripts, builds, tops, hook, seen | {hook})
                    why = why or (inner.rewrites and f"runs `{' '.join(words)}`, which {inner.rewrites}")
                    found.tsc_builds += inner.tsc_builds
        if prog == "tsc":
            if "-b" in args or "--build" in args:
                projects = [a for a in args if not a.startswith("-")]
                found.tsc_builds.append(projects or ["."])
                why = why or f"runs `{' '.join(words)}` (rewrites the outputs of the projects it reaches)"
            elif not ({"--noEmit", "--noemit", "--help", "-h", "--version", "-v", "--showConfig", "--init"} & set(args)):
                why = why or f"runs `{' '.join(words)}` (rewrites its outputs)"
        elif prog in BUILD_TOOLS and not ({"serve", "--help", "--version"} & set(args)):
            why = why or f"runs `{' '.join(words)}` (a build tool)"
        elif prog in SUBCOMMAND_TOOLS and SUBCOMMAND_TOOLS[prog] in args:
            why = why or f"runs `{' '.join(words)}` (a build)"
        elif prog in ("esbuild", "babel", "swc") and (OUT_FLAGS & {a.split("=")[0] for a in args}):
            why = why or f"runs `{' '.join(words)}` (writes output files)"
        elif prog in REMOVERS or (prog == "shx" and args[:1] == ["rm"]):
            targets = [a for a in (args[1:] if prog == "shx" else args) if not a.startswith("-")]
            hit = [t for t in targets if _output_like(t, tops)]
            if hit:
                why = why or f"removes {', '.join(t.removeprefix('./').rstrip('/') + '/' for t in hit)} (`{' '.join(words)}`)"
        elif prog in MONOREPO_RUNNERS and any(b in args for b in builds):
            why = why or f"runs the build through `{' '.join(words[:4])}`"
        elif prog == "concurrently":
            for inner_cmd in (a for a in args if not a.startswith("-")):
                inner = analyze(inner_cmd, scripts, builds, tops, label, seen)
                why = why or inner.rewrites
                found.tsc_builds += inner.tsc_builds
        found.rewrites = found.rewrites or why
    return found


def task_scripts(task: str, scripts: Mapping[str, str], phases: Mapping[str, list[str]], gate: object | None = None,
                 coverage: bool = True) -> list[tuple[str, str]]:
    """(label, command text) a task runs: its scripts with their pre/post scripts, or a check's command."""
    def with_hooks(name: str) -> list[tuple[str, str]]:
        return [(n, scripts[n]) for n in (f"pre{name}", name, f"post{name}") if n in scripts]

    if task == "build":
        return [c for s in phases.get("build", []) for c in with_hooks(s)]
    if task == "test":
        names = []
        for s in phases.get("test", []):
            names.append(s)
            if coverage and f"{s}:coverage" in scripts:
                names.append(f"{s}:coverage")
        return [c for s in names for c in with_hooks(s)]
    if task.startswith("check:") and gate is not None:
        builtin, command = getattr(gate, "builtin", None), getattr(gate, "command", None)
        if builtin == "lint":
            return with_hooks("lint")
        if command:
            return [(task[6:], shlex.join(command))]
    return []


# ---- tsconfig references -----------------------------------------------------------------------

def _tsconfig(path: Path) -> Path:
    return path / "tsconfig.json" if path.is_dir() else path


def reached_projects(cwd: Path, projects: list[str]) -> list[Path]:
    """Every tsconfig a `tsc -b <projects>` run in `cwd` reaches: the projects and their `references`, transitively."""
    found: dict[Path, None] = {}
    stack = [_tsconfig(cwd / p) for p in projects]
    while stack:
        config = stack.pop()
        try:
            config = config.resolve()
        except OSError:
            continue
        if config in found or not config.is_file():
            continue
        found[config] = None
        try:
            data = json.loads(strip_jsonc(config.read_text(errors="replace")))  # tsconfig.json is JSON with comments
        except (OSError, ValueError):
            continue
        for ref in (data.get("references") or []) if isinstance(data, dict) else []:
            if isinstance(ref, dict) and isinstance(ref.get("path"), str):
                stack.append(_tsconfig(config.parent / ref["path"]))
    return list(found)


# ---- the holds of a run ------------------------------------------------------------------------

@dataclass
class Writer:
    reason: str
    source: str  # "script" or "history"


class OutputHazards:
    """The holds of every task of a run, from the packages' scripts, their tsconfig references and history.

    `packages`: name → object with `dir`, `scripts`, `quality_checks` (config.QualityCheck list),
    `output_globs`; `deps`: name → dependencies (as the scheduler gets them); `history`: name → task
    names whose outputs changed under them in the package's latest recorded run.
    """

    def __init__(self, order: list[str], deps: Mapping[str, Iterable[str]], packages: Mapping[str, object],
                 phases: Mapping[str, list[str]], default_gates: list[object], coverage: bool = True,
                 history: Mapping[str, Iterable[str]] | None = None):
        self.order = list(order)
        selected = set(order)
        self.writers: dict[tuple[str, str], Writer] = {}
        self.tsc: dict[tuple[str, str], list[Path]] = {}  # task → projects its `tsc -b` reaches
        self._gates: dict[str, dict[str, object]] = {}
        dirs: dict[str, Path] = {}
        for name in order:
            pkg = packages[name]
            scripts: Mapping[str, str] = getattr(pkg, "scripts", {}) or {}
            dirs[name] = Path(pkg.dir).resolve()
            builds = [s for s in phases.get("build", []) if s in scripts]
            tops = {g.removeprefix("./").split("/")[0] for g in (getattr(pkg, "output_globs", None) or []) if not g.startswith("!")}
            gates = {f"check:{g.name}": g for g in (getattr(pkg, "quality_checks", None) or default_gates)}  # type: ignore[attr-defined]
            self._gates[name] = gates
            for task in ["build", "test", *gates]:
                reasons, tsc_projects = [], []
                for label, command in task_scripts(task, scripts, phases, gates.get(task), coverage):
                    finding = analyze(command, scripts, builds if task != "build" else [], tops, label, frozenset({label}))
                    if finding.rewrites and task != "build":
                        gate = gates.get(task)
                        what = "check" if getattr(gate, "command", None) else "script"
                        reasons.append(f"its {label} {what} {finding.rewrites}")
                    for projects in finding.tsc_builds:
                        tsc_projects += reached_projects(dirs[name], projects)
                if reasons:
                    self.writers[(name, task)] = Writer(reasons[0], "script")
                if tsc_projects:
                    self.tsc[(name, task)] = list(dict.fromkeys(tsc_projects))
            for task in (history or {}).get(name, []) or []:
                if (name, task) not in self.writers and task not in ("build", "finish"):
                    self.writers[(name, task)] = Writer(
                        f"its {task.removeprefix('check:')} rewrote its build outputs in an earlier run (seen by package-builder)", "history")
        # Projects reached by a `tsc -b`, the packages that own them, and those more than one package builds.
        self._owner = {p: self._owning(p, dirs) for ps in self.tsc.values() for p in ps}
        reached_by: dict[Path, set[str]] = {}
        for (name, _), projects in self.tsc.items():
            for p in projects:
                reached_by.setdefault(p, set()).add(name)
        self._reached_by = reached_by
        self._contested = {p for p, users in reached_by.items() if len(users | ({self._owner[p]} if self._owner.get(p) else set())) > 1}
        self._own_projects: dict[str, list[Path]] = {}
        for p in self._contested:
            if self._owner.get(p):
                self._own_projects.setdefault(self._owner[p], []).append(p)
        written = {n for n, _ in self.writers}
        self._reads: dict[str, set[str]] = {}
        closure: dict[str, set[str]] = {}
        for name in order:  # dependency order: a dependency's closure is known first
            ds = {d for d in deps.get(name, []) if d in selected and d != name}
            closure[name] = set(ds).union(*(closure.get(d, set()) for d in ds))
            self._reads[name] = {d for d in closure[name] if d in written}

    @staticmethod
    def _owning(project: Path, dirs: Mapping[str, Path]) -> str | None:
        best = None
        for name, d in dirs.items():
            if project.is_relative_to(d) and (best is None or len(str(d)) > len(str(dirs[best]))):
                best = name
        return best

    def __bool__(self) -> bool:
        return bool(self.writers) or bool(self._contested)

    def hold(self, package: str, task: str) -> Hold:
        if task == "finish":  # publishing and saving read the package's own outputs only
            return Hold()
        shared = {f"outputs:{d}" for d in self._reads.get(package, ())}
        exclusive: set[str] = set()
        reasons: list[str] = []
        writer = self.writers.get((package, task))
        if writer:
            exclusive.add(f"outputs:{package}")
            reasons.append(writer.reason)
        projects = list(self.tsc.get((package, task), []))
        if task == "build":
            projects += [p for p in self._own_projects.get(package, []) if p not in projects]
        shared_projects = [p for p in projects if p in self._contested]
        for p in shared_projects:
            exclusive.add(f"tsc:{p}")
            owner = self._owner.get(p)
            if owner and owner != package and any(n == owner for n, _ in self.writers):
                shared.add(f"outputs:{owner}")
        if shared_projects:
            others = sorted({u for p in shared_projects for u in self._reached_by.get(p, set()) | {self._owner.get(p)}}
                            - {package, None})
            names = ", ".join(self._display(p) for p in shared_projects[:3]) + (" …" if len(shared_projects) > 3 else "")
            if (package, task) in self.tsc:
                reasons.append(f"its {task.removeprefix('check:')} runs `tsc -b`, which builds the referenced project(s) {names}"
                               + (f", also built by {', '.join(others)}" if others else ""))
            else:
                reasons.append(f"its build writes the project(s) {names}, which `tsc -b` of {', '.join(others)} also builds")
        shared -= exclusive
        return Hold(frozenset(shared), frozenset(exclusive), "; ".join(reasons) or None)

    def source(self, package: str, task: str) -> str | None:
        writer = self.writers.get((package, task))
        return writer.source if writer else ("tsc -b" if (package, task) in self.tsc else None)

    def marked(self, package: str) -> set[str]:
        """The package's tasks known to rewrite its outputs."""
        return {t for n, t in self.writers if n == package}

    @staticmethod
    def _display(project: Path) -> str:
        return "/".join(project.parts[-2:])


# ---- this run's observation ----------------------------------------------------------------------

Signature = dict[str, tuple[int, int, int] | None]


def signature(package_dir: Path, files: Iterable[str]) -> Signature:
    """(inode, size, mtime) of each output file, None when missing: a rewrite with identical content
    still changes it (a digest of the contents would not see `rm -rf dist && tsc`)."""
    sig: Signature = {}
    for rel in files:
        try:
            st = os.lstat(package_dir / rel)
            sig[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            sig[rel] = None
    return sig
