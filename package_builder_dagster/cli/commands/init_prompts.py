"""`package-builder init-prompts`: the fix loop's starter prompts (existing files are kept)."""

from __future__ import annotations

from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, workspace_options


@click.command("init-prompts", help="write starter fix prompts (existing files are kept)")
@workspace_options(plan=False)
def init_prompts_command(**flags: Any) -> int:
    from package_builder_dagster.execution.fix_agents import STARTER_PROMPTS, init_prompts

    folder = ConfigFlags(**flags).load().prompts_dir
    written = init_prompts(folder)
    for name in STARTER_PROMPTS:
        path = folder / name
        print(f"{'wrote' if path in written else 'kept '} {path}")
    return 0
