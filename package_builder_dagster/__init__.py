"""package-builder: every package of a JS/TS monorepo as a Dagster asset that builds, tests and checks itself."""

from typing import Any

__version__ = "0.1.0"

# `package_builder_dagster.PackageBuilderComponent` (the `dg` registry entry) imports Dagster only
# when asked for, so the CLI's Dagster-free paths stay fast.
_LAZY = {"PackageBuilderComponent": "orchestration.component"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # `dg list components` looks for registry objects through dir()
    return sorted({*globals(), *_LAZY})
