"""The `package-builder` command line."""

from package_builder_dagster.cli.main import main

__all__ = ["main"]
