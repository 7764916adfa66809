"""The terminal output's two rules: an identifier (package name, run id, path) is never cut, and a
table stays readable at 80 columns. Piped, lines are never wrapped (a run id or a report path stays
on one line, whole); in a terminal, table cells wrap instead of ending in `…`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def make_console() -> Console:
    """A console that wraps nothing when its output is not a terminal."""
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: each line whole, each table row on one line
        console = Console(highlight=False, soft_wrap=True, width=100_000)
    return console


def make_table(title: str, *columns: str) -> Table:
    """A table whose cells wrap (fold) rather than being cut, with a compact border."""
    table = Table(title=title, pad_edge=False, collapse_padding=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table
