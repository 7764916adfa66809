"""One engine: the fix loop re-runs a package's phases through the functions its tasks run, and the
built-in lint check reads ESLint through the one parser registry (in process: real `sh` commands, a
real fix command, the real scheduler)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from package_builder_dagster.discovery import config as settings
from package_builder_dagster.discovery.config import BuildConfig, QualityCheck
from package_builder_dagster.discovery.graph import Package
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.fix_agents import Agents
from package_builder_dagster.execution.output_parsers import PARSERS, ToolRun
from package_builder_dagster.execution.package_pipeline import PackagePipeline
from package_builder_dagster.execution.package_tasks import PackageTasks
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.scheduler import Finished, StateChange, schedule

DATA = Path(__file__).parent.parent / "data"


class _ShellPM:
    """Runs a package script with sh (no npm)."""

    def __init__(self, pkg: Package):
        self.pkg = pkg

    def run_script(self, script: str, args: list[str] | None = None) -> list[str]:
        return ["sh", "-c", self.pkg.scripts[script]]


def _package(root: Path, scripts: dict[str, str], gates: list[QualityCheck]) -> Package:
    folder = root / "pkg"
    folder.mkdir(parents=True)
    pkg = Package("@ex/p", "1.0.0", "pkg", folder, [], scripts)
    pkg.quality_checks = gates
    return pkg


def _config(root: Path, **fix: object) -> BuildConfig:
    return BuildConfig(workspaceRoot=root, testing=settings.TestingConfig(retries=0, enableCoverage=False),
                       agents=settings.AgentsConfig(fix=settings.FixAgentConfig(builtinFixers=[], **fix)))


def _build(root: Path, pkg: Package, config: BuildConfig) -> tuple[PackageRecord, list[str]]:
    """The package through the scheduler, as a run builds it: its outcome and its state changes."""
    runner = CommandRunner(60)
    logs = config.logs_dir

    def start(name: str, on_state) -> PackageTasks:
        agents = Agents(config, SimpleNamespace(root=root), _ShellPM(pkg), runner, logs)  # type: ignore[arg-type]
        return PackageTasks(PackagePipeline(config, _ShellPM(pkg), runner, logs, on_state, agents=agents), pkg)  # type: ignore[arg-type]

    events = list(schedule([pkg.name], {}, start, 2, poll_seconds=0.01))
    outcome = next(e.outcome for e in events if isinstance(e, Finished))
    return outcome, [e.state for e in events if isinstance(e, StateChange)]


LINT = '[ -f fixed ] || { echo "src/a.ts:1:1: error: not fixed yet"; exit 1; }'


def test_a_fix_reruns_build_tests_and_checks_one_after_another(tmp_path):
    pkg = _package(tmp_path, {"build": "echo built >> builds", "test": "true", "lint": LINT},
                   [QualityCheck(name="lint", builtin="lint"), QualityCheck(name="own", script="test", parser="none")])
    out, states = _build(tmp_path, pkg, _config(tmp_path, command=["sh", "-c", "touch fixed"]))
    assert out.status == "success", out.error
    steps = [(s.phase, s.script, s.status) for s in out.steps]
    assert steps[0] == ("build", "build", "passed")  # then the tests and both checks side by side, as tasks
    assert sorted(steps[1:4]) == [("quality", "lint", "failed"), ("quality", "test", "passed"), ("test", "test", "passed")]
    assert steps[4:] == [  # after the fix: one after another, in the gates' order
        ("build", "build", "passed"), ("test", "test", "passed"), ("quality", "lint", "passed"), ("quality", "test", "passed")]
    assert (pkg.dir / "builds").read_text().count("built") == 2
    assert [a.fixed for a in out.fix_attempts] == [True] and out.fix_attempts[0].filesChanged == ["pkg/fixed"]
    assert states.count("checking") == 2 and states.count("fixing") == 1  # each round of checks says so once
    assert out.checks["lint"].passed and out.lint_errors == 0 and out.tests_passed is True


def test_a_fix_that_breaks_the_tests_leaves_them_failed_in_the_record(tmp_path):
    pkg = _package(tmp_path, {"build": "true", "test": "[ ! -f broke ] || { echo 'Error: broke'; exit 1; }", "lint": LINT},
                   [QualityCheck(name="lint", builtin="lint")])
    out, _ = _build(tmp_path, pkg, _config(tmp_path, command=["sh", "-c", "touch fixed broke"], maxAttempts=1))
    assert out.status == "failed" and out.phase == "test"
    assert out.error.startswith("Quality checks failed after 1 fix attempts: `test` failed (exit 1)"), out.error
    assert out.tests_passed is False  # the re-run's verdict, not the first pass's
    assert [a.fixed for a in out.fix_attempts] == [False]


def test_the_builtin_lint_check_reads_eslint_through_the_registry(tmp_path):
    text = (DATA / "eslint-stylish.txt").read_text()
    (tmp_path / "eslint.txt").write_text(text)
    pkg = _package(tmp_path, {"lint": f"cat {tmp_path / 'eslint.txt'}; exit 1"}, [])
    config = _config(tmp_path)
    pipeline = PackagePipeline(config, _ShellPM(pkg), CommandRunner(60), config.logs_dir, lambda *a: None)  # type: ignore[arg-type]
    check = pipeline.gates.check_lint(pkg, PackageRecord(package=pkg.name))
    expected = PARSERS["eslint"](ToolRun(1, text, "", "run lint", pkg.dir, 80.0))
    assert expected and [(f.file, f.line, f.rule, f.message) for f in check.failures] == \
        [(f.file, f.line, f.rule, f.message) for f in expected]
