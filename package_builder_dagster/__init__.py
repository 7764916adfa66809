"""package-builder: every package of a JS/TS monorepo as a Dagster asset that builds, tests and checks itself."""

__version__ = "0.1.0"
