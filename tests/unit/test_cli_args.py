"""The command line's arguments, in process: every flag docs/cli.md lists is a flag of its command
(and the other way round), flags reach the config and the selection as typed, a bad argument is
click's usage and reason with exit 2, and Ctrl-C stays a KeyboardInterrupt. No Dagster run here."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from package_builder_dagster.cli.build_context import BuildRequest
from package_builder_dagster.cli.main import cli, main
from package_builder_dagster.examples import PackageSpec, generate

DOCS_CLI = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _documented_flags() -> dict[str, set[str]]:
    """The synopsis block of docs/cli.md: each command's long flags."""
    block = DOCS_CLI.read_text(encoding="utf-8").split("```")[1]
    flags: dict[str, set[str]] = {}
    command = None
    for line in block.splitlines():
        start = re.match(r"package-builder ([a-z-]+)", line)
        if start:
            command = start.group(1)
        if command:
            flags.setdefault(command, set()).update(re.findall(r"--[a-z][a-z-]*", line))
    return flags


def _command_flags() -> dict[str, set[str]]:
    return {name: {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts if opt.startswith("--")}
            for name, command in cli.commands.items()}


def test_docs_list_every_command_and_flag_and_no_other():
    assert _documented_flags() == _command_flags()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    for key in ("PACKAGE_BUILDER_WORKSPACE", "PACKAGE_BUILDER_CONFIG", "PACKAGE_BUILDER_CONCURRENCY", "PACKAGE_BUILDER_CACHE"):
        monkeypatch.delenv(key, raising=False)
    return generate(tmp_path / "ws", [PackageSpec("a")], kind="trivial")


def test_build_flags_reach_the_selection_and_the_config_as_typed(workspace, monkeypatch):
    seen = []
    monkeypatch.setattr("package_builder_dagster.cli.commands.build.run_build", lambda request, config: seen.append((request, config)) or 0)
    argv = ["build", "-w", str(workspace), "--select", "@ex/a", "--select=tag:x", "--since", "--x", "--stale",
            "--concurrency", "3", "--publish-dry-run", "--cache", "off"]
    assert main(argv) == 0
    (request, config), = seen
    assert request == BuildRequest(select=("@ex/a", "tag:x"), stale=True, failed=False, since="--x")
    assert (config.maxConcurrentBuilds, config.cache.mode) == (3, "off")
    assert config.publishing.enabled and config.publishing.dryRun
    assert config.root == workspace.resolve()
    seen.clear()
    assert main(["build", "-w", str(workspace), "--since=--"]) == 0
    assert seen[0][0] == BuildRequest(since="--") and not seen[0][1].publishing.enabled


@pytest.mark.parametrize(("argv", "reason"), [
    (["nope"], "No such command 'nope'"),
    (["build", "--bogus"], "No such option"),
    (["build", "--concurrency", "x"], "not a valid integer"),
    (["build", "--cache", "bad"], "'bad' is not one of"),
    (["build", "--since"], "requires an argument"),
    (["report", "--run", "r", "--date", "2026-01-01"], "--date is not allowed with --run"),
    (["report", "--since", "2026-01-01", "--run", "r"], "--since is not allowed with --run"),
    (["cache", "purge"], "'purge' is not one of"),
    (["explain"], "Missing argument 'PACKAGE'"),
    (["worker"], "Missing option '--config'"),
    (["example", "x", "--kind", "rust"], "'rust' is not one of"),
    ([], "Commands:"),  # the usage, with each command
])
def test_a_bad_argument_is_the_reason_on_stderr_with_exit_2(argv, reason, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and reason in err and (argv == [] or "Error: " in err), err


def test_help_lists_the_flags_with_exit_0(capsys):
    assert main(["-h"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {name}  " in listing for name in cli.commands), listing
    assert main(["build", "--help"]) == 0
    assert "--since REF" in capsys.readouterr().out


def test_ctrl_c_is_not_swallowed(workspace, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("package_builder_dagster.orchestration.definitions.discover_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["graph", "-w", str(workspace)])
