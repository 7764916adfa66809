"""One module per `package-builder` command, each a click command; `main` adds them to the group.

Each module imports Dagster (and most of the package) inside its functions, so `--help` and
`build --stale`'s fast path stay quick."""

from package_builder_dagster.cli.commands.build import build_command
from package_builder_dagster.cli.commands.cache import cache_command
from package_builder_dagster.cli.commands.example import example_command
from package_builder_dagster.cli.commands.explain import explain_command
from package_builder_dagster.cli.commands.graph import graph_command
from package_builder_dagster.cli.commands.init_prompts import init_prompts_command
from package_builder_dagster.cli.commands.report import report_command
from package_builder_dagster.cli.commands.ui import ui_command
from package_builder_dagster.cli.commands.worker import worker_command

COMMANDS = [graph_command, build_command, ui_command, report_command, explain_command, cache_command,
            init_prompts_command, worker_command, example_command]

__all__ = ["COMMANDS"]
