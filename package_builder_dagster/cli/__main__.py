"""`python -m package_builder_dagster.cli`: the same as `package-builder`."""

from package_builder_dagster.cli.main import run

run()
