"""Shared fixtures: the Node toolchain (installed once per session), example monorepos, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLCHAIN = REPO / "toolchain"


@pytest.fixture(autouse=True)
def _own_artifact_cache(tmp_path, monkeypatch):
    """Each test gets an empty local artifact store (the default one lives under XDG_CACHE_HOME), so
    identical generated workspaces in two tests never restore each other's outputs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="session")
def toolchain() -> Path:
    """toolchain/node_modules: typescript, vitest, eslint, pnpm, yarn berry (one npm install per session)."""
    if not (TOOLCHAIN / "node_modules" / ".bin" / "tsc").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLCHAIN, check=True)
    return TOOLCHAIN


def tool_path(toolchain: Path) -> str:
    """PATH with the toolchain's binaries (pnpm, yarn) after the system's."""
    return os.environ["PATH"] + os.pathsep + str(toolchain / "node_modules" / ".bin")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> CliResult:
    """Run `package-builder ARGS` in a fresh process, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "package_builder_dagster.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git_commit_all(root: Path, message: str = "initial") -> Path:
    """Commit everything in `root` (a git repository is made first when there is none)."""
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    for cmd in (["git", "add", "-A"], ["git", "commit", "-qm", message]):
        subprocess.run(cmd, cwd=root, check=True, env={**os.environ, **GIT_IDENTITY})
    return root


def workspace_instance(root: Path):
    """The Dagster instance `build` uses for the workspace at `root` (its production/.dagster)."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(root / "production" / ".dagster"))


def package_reports(root: Path) -> dict[str, dict]:
    """The latest package reports (`@ex` scope) of the workspace at `root`, by package name."""
    reports = {}
    for path in (root / "production" / "reports").glob("*/@ex/*.json"):
        data = json.loads(path.read_text())
        reports[data["packageName"]] = data
    return reports


CHROMIUM = Path("/usr/bin/chromium")


def open_dagster_page(playwright, url: str, height: int = 1200, timeout_ms: int = 90000):
    """(browser, page): Debian's headless chromium on a Dagster UI page, the community dialog skipped."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])
    page = browser.new_page(viewport={"width": 1600, "height": height})
    page.goto(url, wait_until="networkidle", timeout=timeout_ms)
    try:
        page.get_by_role("button", name="Skip").click(timeout=5000)
    except Exception:
        pass  # the community dialog does not always open
    return browser, page


@dataclass
class Gate:
    """One quality gate's result, as the package's `quality_gates` asset check records it."""

    passed: bool
    ran: bool
    severity: str  # "ERROR" or "WARN" (a gate that only warns, or did not run)
    description: str
    metadata: dict


def gate_results(instance, run_id: str | None = None) -> dict[tuple[str, str], Gate]:
    """(package short name, gate) → its result in run `run_id` (default: the latest run)."""
    import dagster as dg

    run_id = run_id or instance.get_runs(limit=1)[0].run_id
    found = {}
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        data = record.event_log_entry.dagster_event.event_specific_data
        for gate, result in data.metadata["gates"].value.items():
            severity = "WARN" if result["warning_only"] or not result["ran"] else "ERROR"
            found[(data.asset_key.path[-1], gate)] = Gate(result["passed"], result["ran"], severity, result["description"],
                                                          result["metadata"])
    return found
