"""Every error this tool raises on purpose, in one place, under one root, `PackageBuilderError`.
`UsageError` (and its kinds) reach the user as one line and exit code 2; the others are caught where
they happen and become a warning, a failed package or a retry. The Dagster layer turns one that
reaches an asset into a `dg.Failure` in one place (`orchestration/assets.py::as_failure`)."""

from __future__ import annotations


class PackageBuilderError(Exception):
    """The root of every error this tool raises on purpose."""


class UsageError(PackageBuilderError):
    """Bad input from the user: the CLI prints the one-line reason and exits 2."""


class ToolMissing(UsageError):
    """A program the workspace needs is not installed."""


class StoreError(PackageBuilderError):
    """An artifact store cannot be used now (unreachable, timeout, 5xx, disk full, read-only)."""


class RegistryError(PackageBuilderError):
    """An npm registry refused or failed a request; `transient` errors are retried."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


class RecordError(PackageBuilderError):
    """A stored package record this version cannot read."""


class AgentError(PackageBuilderError):
    """A plan agent that did not produce its plan, or a fix that could not be committed."""


class InvalidPackageName(UsageError):
    """A package name npm rejects, or one that could escape a folder or pass for an option."""


class UnsafePath(UsageError):
    """A path built from a name would leave its folder."""


class CorruptArtifact(PackageBuilderError):
    """An artifact that cannot be read, is unsafe, or does not match its digest."""


class WorkersLost(PackageBuilderError):
    """No celery worker answered a ping for too long while steps waited."""


class DistributedRunRefused(PackageBuilderError):
    """The run cannot be distributed (a dirty tree, no git): raised before any step is queued."""


class WorkingCopyError(PackageBuilderError):
    """The clone cannot be brought to the run's commit or installed: the step fails with this."""
