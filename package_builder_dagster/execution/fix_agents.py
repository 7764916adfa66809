"""Plans and the fix loop's agents (the seed's PLAN phase and agent-based remediation).

Prompt selection, running a plan or fix agent as an argument list with a timeout, keeping its
edits inside its package (a snapshot before, a comparison after, outside edits reverted), the
built-in fixers that need no agent, and committing a package's fixes. No Dagster here.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.discovery.graph import Package, WorkspaceGraph
from package_builder_dagster.discovery.package_managers import PackageManager
from package_builder_dagster.discovery.package_names import package_path
from package_builder_dagster.errors import AgentError
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.output_parsers import Failure, failure_types, format_failures

PROMPT_TEMPLATES = Path(__file__).parent / "prompts"
STARTER_PROMPTS = ("generic-developer.md", "lint.md", "test.md", "typescript.md", "lint-test.md")
GENERIC_PROMPT = "generic-developer.md"
# Folders never compared for containment: installs, caches, VCS data, build outputs.
SKIP_DIRS = {"node_modules", ".git", ".turbo", ".yarn", ".pnpm-store", ".cache", "dist", "coverage"}
MAX_SNAPSHOT_FILE = 4 * 1024 * 1024


def user_template() -> Path:
    return Path.home() / ".claude" / "agents" / "package-development-agent.md"


def file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def fill(argv: list[str], values: dict[str, str]) -> list[str]:
    """Replace `{name}` placeholders in each argument (only known names; other braces stay)."""
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


# ---- prompts --------------------------------------------------------------------------------

def select_prompt(prompts_dir: Path, types: list[str]) -> Path:
    """`<types sorted, joined by '-'>.md`, else `generic-developer.md` (created from a template when missing)."""
    specific = prompts_dir / f"{'-'.join(sorted(types))}.md"
    if specific.is_file():
        return specific
    generic = prompts_dir / GENERIC_PROMPT
    if not generic.is_file():
        template = user_template() if user_template().is_file() else PROMPT_TEMPLATES / GENERIC_PROMPT
        prompts_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(generic, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # another package created it a moment ago
            return generic
        with os.fdopen(fd, "w") as fh:
            fh.write(template.read_text())
    return generic


def init_prompts(prompts_dir: Path) -> list[Path]:
    """Write this tool's starter prompts; existing files are left as they are."""
    prompts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in STARTER_PROMPTS:
        target = prompts_dir / name
        if not target.exists():
            target.write_text((PROMPT_TEMPLATES / name).read_text())
            written.append(target)
    return written


# ---- containment ------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """The workspace's files (outside installs, caches and build outputs) at one moment."""

    root: Path
    files: dict[Path, bytes | str]  # content, or its hash for big files
    skip: set[Path] = field(default_factory=set)

    @classmethod
    def take(cls, root: Path, skip: set[Path]) -> Snapshot:
        files: dict[Path, bytes | str] = {}
        skip = skip | git_ignored(root)
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and here / d not in skip]
            for name in names:
                path = here / name
                if name.endswith(".tsbuildinfo") or path.is_symlink() or path in skip:  # e.g. an ignored log
                    continue
                try:
                    size = path.stat().st_size
                    files[path] = path.read_bytes() if size <= MAX_SNAPSHOT_FILE else (file_hash(path) or "")
                except OSError:
                    continue
        return cls(root, files, skip)

    def changed(self) -> list[Path]:
        """Files created, changed or deleted since the snapshot."""
        now = Snapshot.take(self.root, self.skip).files
        changed = [p for p in now if p not in self.files or not _same(self.files[p], now[p])]
        changed += [p for p in self.files if p not in now]
        return sorted(changed)

    def restore(self, paths: list[Path]) -> list[Path]:
        """Put `paths` back as they were; returns the ones that could not be (big files)."""
        failed = []
        for path in paths:
            before = self.files.get(path)
            if before is None:
                path.unlink(missing_ok=True)
            elif isinstance(before, bytes):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(before)
            else:
                failed.append(path)
        return failed


def git_ignored(root: Path) -> set[Path]:
    """Paths git ignores in `root` (build outputs, installs), when it is a git working tree."""
    try:
        proc = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
                              cwd=root, capture_output=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return set()
    if proc.returncode != 0:
        return set()
    return {(root / p.rstrip("/")) for p in proc.stdout.decode(errors="replace").split("\0") if p}


def _same(a: bytes | str, b: bytes | str) -> bool:
    if isinstance(a, bytes) and isinstance(b, bytes):
        return a == b
    ha = a if isinstance(a, str) else hashlib.sha256(a).hexdigest()
    hb = b if isinstance(b, str) else hashlib.sha256(b).hexdigest()
    return ha == hb


# ---- the agents -------------------------------------------------------------------------------

@dataclass
class FixAttempt:
    """One attempt of the fix loop, with the seed's fields (count, types, agentPromptUsed, fixDuration)."""

    count: int
    types: list[str]
    agentPromptUsed: str
    fixDuration: int = 0
    exitCode: int | None = None
    filesChanged: list[str] = field(default_factory=list)
    outsideChanges: list[str] = field(default_factory=list)
    reverted: bool = False
    timedOut: bool = False
    fixed: bool = False  # the checks passed after this attempt
    log: str | None = None


def plain_eslint(script: str) -> bool:
    """Whether a `lint` script is one eslint call, so `--fix` appended to it reaches eslint (in a chain
    like `deno check && eslint src` it would reach the last command, whatever that is)."""
    words = script.split()
    return bool(words) and words[0] in ("eslint", "npx") and "eslint" in words[:2] and not re.search(r"&&|\|\||[;|]", script)


class Agents:
    """Runs plan agents, built-in fixers and fix agents for the packages of one run.

    One agent at a time per workspace (a file lock, so it holds across processes too): the
    snapshot comparison can then tell this agent's edits from another's.
    """

    def __init__(self, config: BuildConfig, graph: WorkspaceGraph, pm: PackageManager, runner: CommandRunner, logs_dir: Path):
        self.config, self.graph, self.pm, self.runner, self.logs_dir = config, graph, pm, runner, logs_dir
        self.fix = config.agents.fix
        own = {config.reports_dir, config.logs_dir, config.dagster_home, config.root / "production" / ".verdaccio"}
        self.skip = {p.resolve() for p in own}

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.config.logs_dir / ".agents.lock"):
            yield

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.graph.root)

    # -- plans ------------------------------------------------------------------------------
    def write_plan(self, pkg: Package) -> None:
        """Run the plan agent for `pkg`; AgentError unless it wrote the plan file."""
        plan_cfg = self.config.agents.plan
        assert plan_cfg.command and pkg.plan_path
        values = {
            "package_name": pkg.name, "category": pkg.category or "", "dependencies": ",".join(pkg.dependencies),
            "package_dir": str(pkg.dir), "plan_file": str(pkg.plan_path), "workspace": str(self.graph.root),
        }
        pkg.plan_path.parent.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            log = package_path(self.logs_dir, pkg.name) / "plan-agent.log"
            result = self.runner.run(fill(plan_cfg.command, values), pkg.dir, log, timeout=plan_cfg.timeoutSeconds)
        if result.timed_out:
            raise AgentError(f"plan agent timed out after {plan_cfg.timeoutSeconds} s without writing {self._rel(pkg.plan_path)}")
        if result.missing_tool:
            raise AgentError(f"missing tool: {result.missing_tool} (agents.plan.command)")
        if not pkg.plan_path.is_file():
            raise AgentError(f"plan agent exited (code {result.exit_code}) without writing {self._rel(pkg.plan_path)}")

    # -- fixes ------------------------------------------------------------------------------
    def next_attempt(self, pkg: Package, count: int, failures: list[Failure], tried_builtin: bool,
                     on_start: Callable[[], None] | None = None) -> FixAttempt | None:
        """Run the next attempt for these failures (a built-in fixer first, then the agent); None when none applies.
        `on_start` is called just before a fixer or the agent runs (never when none applies)."""
        if not tried_builtin and "eslint" in self.fix.builtinFixers and plain_eslint(pkg.scripts.get("lint", "")) \
                and any(f.type == "lint" for f in failures):
            if on_start:
                on_start()
            return self._attempt(pkg, count, failures, "builtin:eslint-fix", self.pm.run_script("lint", ["--fix"]))
        if not self.fix.command:
            return None
        if on_start:
            on_start()
        prompt = select_prompt(self.config.prompts_dir, failure_types(failures))
        prompt_file = package_path(self.logs_dir, pkg.name) / f"fix-{count}-prompt.md"
        prompt_file.parent.mkdir(parents=True, exist_ok=True)
        prompt_file.write_text(self.prompt_text(pkg, prompt, failures))
        values = {
            "prompt_file": str(prompt_file), "package_dir": str(pkg.dir), "package_name": pkg.name,
            "plan_file": str(pkg.plan_path or ""), "attempt": str(count), "failure_types": "-".join(failure_types(failures)),
            "workspace": str(self.graph.root),
        }
        return self._attempt(pkg, count, failures, self._rel(prompt), fill(self.fix.command, values))

    def prompt_text(self, pkg: Package, prompt: Path, failures: list[Failure]) -> str:
        plan = pkg.plan_path
        plan_line = f"{plan}" + ("" if plan and plan.is_file() else " (missing)")
        head = prompt.read_text().rstrip() + "\n\n---\n\n"
        context = f"Package: {pkg.name}\nPackage folder: {pkg.dir}\nPlan: {plan_line}\n\n"
        budget = max(200, self.fix.maxPromptChars - len(head) - len(context))
        return head + context + format_failures(failures, budget)

    def _attempt(self, pkg: Package, count: int, failures: list[Failure], label: str, argv: list[str]) -> FixAttempt:
        attempt = FixAttempt(count, failure_types(failures), label)
        allowed = [pkg.dir.resolve()] + ([pkg.plan_path.resolve()] if pkg.plan_path else [])
        started = time.monotonic()
        with self._exclusive():
            snapshot = Snapshot.take(self.graph.root, self.skip)
            log = package_path(self.logs_dir, pkg.name) / f"fix-{count}.log"
            result = self.runner.run(argv, pkg.dir, log, timeout=self.fix.timeoutSeconds)
            changed = snapshot.changed()
            inside = [p for p in changed if any(p.resolve().is_relative_to(a) for a in allowed)]
            outside = [p for p in changed if p not in inside]
            if outside and self.fix.outsideChanges == "revert":
                snapshot.restore(outside)
                attempt.reverted = True
        attempt.fixDuration = int((time.monotonic() - started) * 1000)
        attempt.exitCode, attempt.timedOut, attempt.log = result.exit_code, result.timed_out, str(log)
        attempt.filesChanged = [self._rel(p) for p in inside]
        attempt.outsideChanges = [self._rel(p) for p in outside]
        return attempt

    def commit(self, pkg: Package, attempts: list[FixAttempt]) -> str:
        """Commit the files the fix attempts changed, naming the package, the failure types and the attempts."""
        paths = sorted({p for a in attempts for p in a.filesChanged})
        types = sorted({t for a in attempts if a.filesChanged for t in a.types})
        counts = [str(a.count) for a in attempts if a.filesChanged]
        message = f"fix({pkg.name}): {', '.join(types)} (package-builder fix attempt {', '.join(counts)})"
        root = self.graph.root
        with self._exclusive():
            identity = [] if _git(root, "config", "user.email").stdout.strip() else [
                "-c", "user.name=package-builder", "-c", "user.email=package-builder@localhost"]
            add = _git(root, "add", "-A", "--", *paths)
            done = _git(root, *identity, "commit", "-q", "-m", message, "--", *paths) if add.returncode == 0 else add
            if done.returncode != 0:
                raise AgentError(f"could not commit the fix of {pkg.name}: {done.stderr.strip() or done.stdout.strip()}")
            return _git(root, "rev-parse", "HEAD").stdout.strip()


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=120)

