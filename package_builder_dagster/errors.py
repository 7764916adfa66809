"""Every error this tool raises on purpose, in one place. `UsageError` (and `ToolMissing`) reach the
user as one line and exit code 2; the others are caught where they happen and become a warning, a
failed package or a retry."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: the CLI prints the one-line reason and exits 2."""


class ToolMissing(UsageError):
    """A program the workspace needs is not installed."""


class StoreError(Exception):
    """An artifact store cannot be used now (unreachable, timeout, 5xx, disk full, read-only)."""


class RegistryError(Exception):
    """An npm registry refused or failed a request; `transient` errors are retried."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


class RecordError(Exception):
    """A stored package record this version cannot read."""


class AgentError(Exception):
    """A plan agent that did not produce its plan, or a fix that could not be committed."""
