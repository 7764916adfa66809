"""The discovered workspace graph as a file the run carries: the run's process and its step processes
read it instead of discovering the workspace again (the discovery of a large workspace reads every
package's files). A file is named by its content's digest and read only for the workspace root it
was made for, so a worker's own clone (another root) discovers for itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.files import write_text_atomic

KEEP = 50  # graph files kept per folder (the newest)
_ADAPTER = TypeAdapter(WorkspaceGraph)


def save_graph(graph: WorkspaceGraph, folder: Path) -> Path:
    """Write `graph` to `folder/<digest>.json` (once per content) and return the path."""
    text = _ADAPTER.dump_json(graph).decode()
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
    if not path.exists():
        write_text_atomic(path, text)
        for old in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEEP]:
            old.unlink(missing_ok=True)
    return path


def load_graph(path: str | Path, root: Path) -> WorkspaceGraph | None:
    """The graph in `path` when it is intact and was made for `root`; None otherwise (discover instead)."""
    try:
        text = Path(path).read_text()
        if hashlib.sha256(text.encode()).hexdigest()[:32] != Path(path).stem:
            return None
        graph = _ADAPTER.validate_json(text)
    except (OSError, ValueError, ValidationError):
        return None
    return graph if graph.root == root.resolve() else None
