"""The JavaScript toolchain: package-manager detection, running commands safely, reading their output.

Every command runs as an argument list (never through a shell), in its own process group, with a
timeout that kills the whole group, and its full output saved to a log file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from package_builder_dagster.files import read_yaml
from package_builder_dagster.errors import ToolMissing

OUTPUT_TAIL_LINES = 40


# ---- package managers ---------------------------------------------------------------------

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


# ---- running commands ---------------------------------------------------------------------

@dataclass
class CommandResult:
    argv: list[str]
    exit_code: int | None
    duration_ms: int
    log_path: Path
    tail: str
    timed_out: bool = False
    cancelled: bool = False
    missing_tool: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def read_output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return self.tail


def tail_of(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class CommandRunner:
    """Runs argument lists with a timeout; `cancel()` kills every running process group."""

    timeout_seconds: float
    base_env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # strings masked as *** in every log this runner writes
    _running: set[subprocess.Popen[bytes]] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _cancelled: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("NPM_TOKEN", "NODE_AUTH_TOKEN")}
        env.update({"CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1", "npm_config_update_notifier": "false"})
        env.update(self.base_env)
        env.update(extra or {})
        return env

    def run(
        self,
        argv: list[str],
        cwd: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        if self._cancelled.is_set():
            return CommandResult(argv, None, 0, log_path, "cancelled before start", cancelled=True)
        with open(log_path, "wb") as log:
            log.write(("$ " + " ".join(argv) + f"\n# in {cwd}\n").encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=self.env(env), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except FileNotFoundError:
                msg = f"missing tool: {argv[0]} is not installed or not on PATH"
                log.write((msg + "\n").encode())
                return CommandResult(argv, None, 0, log_path, msg, missing_tool=argv[0])
            with self._lock:
                self._running.add(proc)
            timed_out = False
            try:
                proc.wait(timeout=timeout or self.timeout_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                proc.wait()
            finally:
                with self._lock:
                    self._running.discard(proc)
            # Whatever the command left running in its group (watchers, workers) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if timed_out:
                log.write(f"\n# killed after {timeout or self.timeout_seconds:.0f} s timeout\n".encode())
        duration = int((time.monotonic() - start) * 1000)
        text = log_path.read_text(errors="replace")
        if any(s and s in text for s in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***") if secret else text
            log_path.write_text(text)
        return CommandResult(
            argv, proc.returncode, duration, log_path, tail_of(text),
            timed_out=timed_out, cancelled=self._cancelled.is_set(),
        )

    def cancel(self) -> None:
        """Kill every running command's process group; later `run` calls return at once."""
        self._cancelled.set()
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc, grace=1.0)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


# ---- reading tool output ------------------------------------------------------------------

_TSC = re.compile(r"^(?:(?P<file>[^\s(][^(\n]*)\((?P<line>\d+),(?P<col>\d+)\): )?error (?P<code>TS\d+): (?P<msg>.*)$", re.M)
_ESLINT_SUMMARY = re.compile(r"(\d+) problems? \((\d+) errors?, (\d+) warnings?\)")
_COVERAGE_TEXT = re.compile(r"^\s*All files\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)", re.M)


def typescript_diagnostics(output: str) -> list[dict[str, Any]]:
    """`tsc` diagnostics (`file(line,col): error TSxxxx: message`) found in a command's output."""
    return [
        {"file": m["file"], "line": int(m["line"]) if m["line"] else None, "code": m["code"], "message": m["msg"].strip()}
        for m in _TSC.finditer(output)
    ]


def format_diagnostic(diag: dict[str, Any]) -> str:
    """`file(line): TSxxxx: message`, the way the summary and the failure show one diagnostic."""
    return f"{diag['file']}({diag['line']}): {diag['code']}: {diag['message']}"


def eslint_counts(output: str) -> tuple[int, int] | None:
    """(errors, warnings) from ESLint's summary line, or None when there is none."""
    matches = _ESLINT_SUMMARY.findall(output)
    if not matches:
        return None
    _, errors, warnings = matches[-1]
    return int(errors), int(warnings)


def read_coverage(package_dir: Path, output: str) -> dict[str, float] | None:
    """Coverage percentages from coverage/coverage-summary.json, else the runner's text table."""
    summary = package_dir / "coverage" / "coverage-summary.json"
    if summary.is_file():
        try:
            total = json.loads(summary.read_text())["total"]
            return {k: float(total[k]["pct"]) for k in ("lines", "statements", "functions", "branches") if k in total}
        except (ValueError, KeyError, TypeError):
            pass
    m = _COVERAGE_TEXT.findall(output)
    if m:
        stmts, branches, funcs, lines = (float(x) for x in m[-1])
        return {"lines": lines, "statements": stmts, "functions": funcs, "branches": branches}
    return None


COVERAGE_ARGS: dict[str, list[str]] = {
    "vitest": ["--coverage.enabled=true", "--coverage.reporter=json-summary", "--coverage.reporter=text", "--coverage.reportOnFailure=true"],
    "jest": ["--coverage", "--coverageReporters=json-summary", "--coverageReporters=text"],
}
VITEST_COVERAGE_PROVIDERS = ("@vitest/coverage-v8", "@vitest/coverage-istanbul")
# What a test run prints when flags this tool added are the cause of its failure.
_FLAGS_REJECTED = re.compile(
    r"MISSING DEPENDENCY|(?:Cannot find|Failed to load).*@vitest/coverage-|Failed to load coverage provider"
    r"|[Uu]nknown (?:option|argument|flag)|Unrecognized CLI Parameter|does not meet (?:the )?(?:global )?threshold"
)


def test_runner(script: str) -> str | None:
    """`vitest` or `jest` when a test script runs one of them directly; None for anything else."""
    words = script.split()
    runner = next((w for w in words if "=" not in w and w not in ("cross-env", "npx", "pnpm", "exec")), "")
    return runner if runner in COVERAGE_ARGS else None


def coverage_args(script: str) -> list[str] | None:
    """Arguments that make this test script's runner write a coverage summary; None if unknown."""
    runner = test_runner(script)
    return list(COVERAGE_ARGS[runner]) if runner else None


def resolves(start: Path, module: str) -> bool:
    """Whether Node finds `module` from folder `start` (its node_modules or a parent's)."""
    return any((folder / "node_modules" / module / "package.json").is_file() for folder in (start, *start.parents))


def missing_coverage_provider(runner: str, package_dir: Path) -> str | None:
    """Why `runner` cannot measure coverage from `package_dir`, or None (jest's coverage is built in)."""
    if runner == "vitest" and not any(resolves(package_dir, m) for m in VITEST_COVERAGE_PROVIDERS):
        return "no coverage provider installed (" + " or ".join(VITEST_COVERAGE_PROVIDERS) + ")"
    return None


def flags_rejected(output: str) -> str | None:
    """The line saying a run failed because of flags this tool added (unknown option, missing coverage
    dependency, a coverage threshold only coverage mode enforces), or None."""
    for line in output.splitlines():
        if _FLAGS_REJECTED.search(line):
            return line.strip()[:300]
    return None


_NOT_FOUND = re.compile(r"Cannot find (?:module|package)|Failed to (?:resolve|load url)|ERR_MODULE_NOT_FOUND|Could not resolve|MODULE_NOT_FOUND")


def module_not_found(output: str, package: str) -> bool:
    """Whether a run's output says module `package` (or a file in it) could not be resolved."""
    name = re.compile(r"(?<![\w@/.-])" + re.escape(package) + r"(?![\w-])")
    return any(_NOT_FOUND.search(line) and name.search(line) for line in output.splitlines())


# A package manager's own lines about a script that failed: never the telling line.
_LIFECYCLE_NOISE = re.compile(r"ELIFECYCLE|^npm (?:ERR!|error)|^error Command failed|Lifecycle script|^info Visit https://yarnpkg|"
                              r"^ERR_PNPM_|^\s*[❯>] .*\(\d+ tests?\)")
_COMMAND_NOT_FOUND = re.compile(r"^(?:sh|bash|/bin/sh): (?:\d+: )?(?:line \d+: )?(?P<a>[^:\s]+): (?:command )?not found$|^(?P<b>[^:\s]+): command not found$", re.M)


def command_not_found(output: str) -> str | None:
    """The program a script's shell could not find (`sh: 1: deno: not found`), or None."""
    m = _COMMAND_NOT_FOUND.search(output)
    return (m["a"] or m["b"]) if m else None


def first_error_line(text: str) -> str:
    """The most telling line of a failure: a diagnostic or 'Error' line, else the last non-empty one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("$ ", "# in "))]
    lines = [ln for ln in lines if not _LIFECYCLE_NOISE.search(ln)] or lines
    missing = command_not_found(text)
    if missing:
        return next(ln for ln in lines if missing in ln and "not found" in ln)[:300]
    for ln in lines:
        if re.search(r"error TS\d+|\berror\b|Error:|FAIL|✖|AssertionError", ln):
            return ln[:300]
    return lines[-1][:300] if lines else ""
