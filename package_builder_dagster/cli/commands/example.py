"""`package-builder example DIR`: an example monorepo (a git repository) to try the tool on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "package-builder", "GIT_AUTHOR_EMAIL": "package-builder@localhost",
                "GIT_COMMITTER_NAME": "package-builder", "GIT_COMMITTER_EMAIL": "package-builder@localhost"}


@click.command("example", help="write an example monorepo")
@click.argument("path", metavar="DIR")
@click.option("--toolchain", metavar="DIR", help="folder whose node_modules holds typescript, vitest and eslint")
@click.option("--kind", type=click.Choice(["typescript", "trivial"]), default="typescript", show_default=True)
@click.option("--packages", type=int, metavar="N", help="generate this many layered packages instead of the 8-package suite")
@click.option("--force", is_flag=True, help="write into a folder that is not empty (overwrites, commits all)")
def example_command(path: str, toolchain: str | None, kind: str, packages: int | None, force: bool) -> int:
    from package_builder_dagster.cli.input_checks import check_example_target
    from package_builder_dagster.examples import example_suite, generate, layered_specs

    check_example_target(Path(path).resolve(), force)
    specs = layered_specs(packages) if packages else example_suite()
    root = generate(Path(path).resolve(), specs, kind=kind, toolchain=Path(toolchain).resolve() if toolchain else None)
    if shutil.which("git") and not (root / ".git").exists():  # committed, so it can be published
        env = {**os.environ, **GIT_IDENTITY}
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "example monorepo"]):
            subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    print(root)
    return 0
