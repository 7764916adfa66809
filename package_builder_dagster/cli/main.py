"""`package-builder`: graph, build, ui (and example, to make a monorepo to try it on).

Exit codes: 0 every selected package succeeded (or nothing to do); 1 a package failed or was
blocked, or a fault of the machine such as a full disk; 2 bad input (a one-line reason on stderr;
click's usage and reason for a bad argument). PACKAGE_BUILDER_DEBUG=1 shows a fault's traceback
instead of its one line.
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Sequence

import click

from package_builder_dagster.cli.commands import COMMANDS
from package_builder_dagster.errors import UsageError


@click.group("package-builder", help=__doc__.splitlines()[0], context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The `package-builder` group; each command is a module of `cli/commands/`."""


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. A UsageError below is one line on stderr and exit 2; a fault
    of the machine one line and its code (cli/faults.py); a bug keeps its traceback."""
    warnings.filterwarnings("ignore")  # Dagster's beta/preview warnings are not for our users
    try:
        return _invoke(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"package-builder: {' '.join(str(exc).splitlines())}", file=sys.stderr)  # always one line
        return 2
    except Exception as exc:  # a fault of the machine (files, disk, storage) is one line; a bug keeps its traceback
        from package_builder_dagster.cli.faults import debugging, describe_fault

        fault = describe_fault(exc)
        if fault is None or debugging():
            raise
        print(f"package-builder: {fault.message}", file=sys.stderr)
        return fault.code


def _invoke(args: list[str]) -> int:
    """Parse `args` and run the command, outside click's standalone mode: Ctrl-C stays a
    KeyboardInterrupt, and a bad argument is click's message with exit 2."""
    try:
        with cli.make_context("package-builder", args) as ctx:
            return int(cli.invoke(ctx))
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


def run() -> None:
    """The `package-builder` program: `main`, then exit. The heap is frozen first, so the exiting
    interpreter frees it without garbage-collection passes over Dagster's objects (0.5 s of a
    cached build's 3.5 s); exit handlers still run."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
