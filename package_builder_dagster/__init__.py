"""package-builder: every package of a JS/TS monorepo as a Dagster asset that builds, tests and checks itself.

The names users import, as with dagster-dbt: the factory (`build_definitions`), the Component, the
translator to subclass, the resource, the config, the typed record, and the error root. Each is
imported on first use, so the CLI's Dagster-free paths (`build --stale`'s fast path) stay fast.
"""

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "BuildConfig": "discovery.config",
    "load_config": "discovery.config",
    "discover_for": "discovery.workspace",
    "WorkspaceGraph": "discovery.graph",
    "Package": "discovery.graph",
    "PackageRecord": "execution.record",
    "PackageTranslator": "orchestration.translator",
    "PackageBuilderResource": "orchestration.resource",
    "build_definitions": "orchestration.definitions",
    "PackageBuilderComponent": "orchestration.component",  # the `dg` registry entry
    "UsageError": "errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # `dg list components` looks for registry objects through dir()
    return sorted({*globals(), *_LAZY})
