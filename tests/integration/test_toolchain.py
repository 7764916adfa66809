"""Running commands (argument lists, process-group timeouts) and reading real tool output."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from processes import alive

from package_builder_dagster.discovery.package_managers import detect_package_manager
from package_builder_dagster.execution.commands import CommandRunner
from package_builder_dagster.execution.output_parsers import eslint_counts, read_coverage
from package_builder_dagster.execution.tool_output import coverage_args, typescript_diagnostics


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = (
        "const {spawn}=require('child_process');"
        "const c=spawn('sleep',['60'],{stdio:'ignore'});"
        f"require('fs').writeFileSync({json.dumps(str(pidfile))}, String(c.pid));"
        "console.log('started'); setInterval(()=>{},1000);"
    )
    runner = CommandRunner(timeout_seconds=1.5)
    started = time.monotonic()
    result = runner.run(["node", "-e", script], tmp_path, tmp_path / "log.txt")
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 10
    assert "started" in result.tail and "timeout" in result.log_path.read_text()
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    assert not alive(grandchild)


def test_arguments_are_never_interpreted_by_a_shell(tmp_path):
    evil = "$(touch pwned); `touch pwned2` && echo hi > pwned3"
    result = CommandRunner(timeout_seconds=10).run(["node", "-e", "console.log(process.argv[1])", evil], tmp_path, tmp_path / "l.txt")
    assert result.ok and evil in result.tail
    assert not any((tmp_path / f).exists() for f in ("pwned", "pwned2", "pwned3"))


def test_missing_program_is_named(tmp_path):
    result = CommandRunner(timeout_seconds=5).run(["no-such-tool-xyz", "--version"], tmp_path, tmp_path / "l.txt")
    assert result.missing_tool == "no-such-tool-xyz" and "no-such-tool-xyz" in result.tail


def test_commands_never_see_the_npm_token(tmp_path, monkeypatch):
    monkeypatch.setenv("NPM_TOKEN", "npm_SECRET_VALUE")
    argv = ["node", "-e", "console.log(process.env.NPM_TOKEN || 'none', process.env.CI)"]
    result = CommandRunner(timeout_seconds=10).run(argv, tmp_path, tmp_path / "l.txt")
    assert "none true" in result.tail and "SECRET" not in result.log_path.read_text()


@pytest.mark.parametrize(
    "files, kind",
    [
        ({"package.json": {"packageManager": "pnpm@9.1.0"}}, "pnpm"),
        ({"package.json": {}, "pnpm-lock.yaml": ""}, "pnpm"),
        ({"package.json": {}, "yarn.lock": "# yarn lockfile v1\n"}, "yarn-classic"),
        ({"package.json": {}, "yarn.lock": "__metadata:\n  version: 8\n"}, "yarn-berry"),
        ({"package.json": {"packageManager": "yarn@1.22.22"}}, "yarn-classic"),
        ({"package.json": {}, "package-lock.json": "{}"}, "npm"),
        ({"package.json": {}}, "npm"),
    ],
)
def test_package_manager_detection(tmp_path, files, kind, toolchain, monkeypatch):
    monkeypatch.setenv("PATH", os.environ["PATH"] + os.pathsep + str(toolchain / "node_modules" / ".bin"))
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content) if isinstance(content, dict) else content)
    assert detect_package_manager(tmp_path).kind == kind


def test_parsers_on_real_tool_output(tmp_path, toolchain):
    """tsc diagnostics and ESLint's summary from the real tools; coverage from a real vitest run."""
    bins = toolchain / "node_modules" / ".bin"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.ts").write_text('export const n: number = "x";\nexport const m: string = 1;\n')
    tsc = subprocess.run([str(bins / "tsc"), "--noEmit", "--strict", "src/bad.ts"], cwd=tmp_path, capture_output=True, text=True)
    diags = typescript_diagnostics(tsc.stdout)
    assert [(d["file"], d["line"], d["code"]) for d in diags] == [("src/bad.ts", 1, "TS2322"), ("src/bad.ts", 2, "TS2322")]
    (tmp_path / "eslint.config.mjs").write_text('export default [{ rules: { "no-unused-vars": "error", "no-var": "warn" } }];\n')
    (tmp_path / "src" / "lint.js").write_text("var a = 1;\nconst unused = 2;\nexport default a;\n")
    eslint = subprocess.run([str(bins / "eslint"), "src/lint.js"], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert eslint_counts(eslint.stdout) == (1, 1)
    (tmp_path / "src" / "sum.js").write_text("export function sum(a, b) {\n  return a + b;\n}\nexport function never() {\n  return 0;\n}\n")
    (tmp_path / "sum.test.js").write_text(
        'import { expect, it } from "vitest";\nimport { sum } from "./src/sum.js";\nit("sums", () => expect(sum(1, 2)).toBe(3));\n')
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "node_modules").symlink_to(toolchain / "node_modules")
    vitest = subprocess.run(
        [str(bins / "vitest"), "run", *coverage_args("vitest run"), "--coverage.include=src/sum.js"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )
    assert vitest.returncode == 0, vitest.stdout + vitest.stderr
    cov = read_coverage(tmp_path, vitest.stdout)
    assert cov is not None and 0 < cov["lines"] < 100 and cov["functions"] == 50.0
    (tmp_path / "coverage" / "coverage-summary.json").unlink()
    assert read_coverage(tmp_path, vitest.stdout)["functions"] == 50.0  # from the text table


def test_yarn_classic_needs_yarn_1(tmp_path, toolchain, monkeypatch):
    """A yarn.lock of yarn 1 is never run with yarn 4: a yarn 1 beside it is taken, else a clear error."""
    import pytest

    from package_builder_dagster.discovery.package_managers import detect_package_manager
    from package_builder_dagster.errors import ToolMissing

    (tmp_path / "package.json").write_text('{"name": "r", "private": true, "workspaces": ["p/*"]}')
    (tmp_path / "yarn.lock").write_text("# yarn lockfile v1\n")
    monkeypatch.setenv("PATH", os.environ["PATH"] + os.pathsep + str(toolchain / "node_modules" / ".bin"))
    pm = detect_package_manager(tmp_path)  # the toolchain's `yarn` is 4.x; its `yarn` package is 1.22
    assert pm.kind == "yarn-classic" and pm.argv[-1].endswith("node_modules/yarn/bin/yarn.js")
    only = tmp_path / "bin"
    only.mkdir()
    (only / "yarn").symlink_to(toolchain / "node_modules" / "@yarnpkg" / "cli-dist" / "bin" / "yarn.js")
    monkeypatch.setenv("PATH", f"{only}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolMissing, match=r"needs yarn 1.x, but `yarn` on PATH is 4\."):
        detect_package_manager(tmp_path)


def test_commands_never_get_the_secrets_the_config_names(tmp_path, monkeypatch):
    from package_builder_dagster.discovery.config import BuildConfig
    from package_builder_dagster.secret_env import hidden_from_commands

    config = BuildConfig.model_validate({
        "workspaceRoot": str(tmp_path), "cache": {"remote": {"tokenEnv": "TEAM_CACHE_TOKEN", "signatureKeyEnv": "TEAM_SIGNING_KEY"}},
        "dagster": {"storage": {"postgres": {"urlEnv": "TEAM_PG_URL"}}, "executor": {"brokerEnv": "TEAM_BROKER"}},
    })
    secrets = {"NPM_TOKEN": "n", "TEAM_CACHE_TOKEN": "c", "TEAM_SIGNING_KEY": "k", "TEAM_PG_URL": "postgresql://u:p@h/db",
               "TEAM_BROKER": "redis://:p@h", "DAGSTER_EXECUTE_RUN_ARGS": "{}"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ORDINARY", "kept")
    runner = CommandRunner(timeout_seconds=30, hidden_env=hidden_from_commands(config))
    result = runner.run(["node", "-e", "console.log(Object.keys(process.env).sort().join(' '))"], tmp_path, tmp_path / "env.log")
    seen = set(result.tail.split())
    assert "ORDINARY" in seen and not seen & set(secrets), seen & set(secrets)
