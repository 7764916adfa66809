"""The live progress of `package-builder build`: one progress bar, and a line per package state
change printed above it, read from the run's progress file while the run's own process executes it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

STATE_STYLES = {
    "queued": "dim", "planning": "cyan", "verifying": "cyan", "building": "blue", "testing": "magenta", "checking": "yellow",
    "fixing": "yellow", "publishing": "cyan", "restoring": "cyan", "done": "green", "failed": "bold red", "blocked": "red",
}


class ProgressWatcher:
    """Follows the run's progress file (or, for steps on other machines, its event log) and shows a
    progress bar and a line per package state change."""

    def __init__(self, instance: Any, run_id: str, selected: list[str], console: Any, progress_file: Path):
        self.instance, self.run_id, self.selected, self.console = instance, run_id, selected, console
        self.progress_file = progress_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._offset, self._cursor, self._from_file = 0, None, False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _states(self) -> list[dict[str, Any]]:
        """New state changes: from the progress file once it exists, from Dagster's events until then
        (a distributed run's steps write theirs on the workers: only their start and end reach here)."""
        from package_builder_dagster.orchestration.progress_file import read_progress
        from package_builder_dagster.orchestration.run_events import read_states

        if self._from_file or self.progress_file.exists():
            self._from_file = True
            states, self._offset = read_progress(self.progress_file, self._offset)
            return states
        try:
            states, self._cursor = read_states(self.instance, self.run_id, self._cursor)
        except Exception:  # the storage may be busy for a moment; try again
            return []
        return states

    def _loop(self) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from package_builder_dagster.orchestration.run_events import TERMINAL

        finished: set[str] = set()
        with Progress(TextColumn("[bold]packages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, transient=True) as progress:
            task = progress.add_task("build", total=len(self.selected))
            while True:
                stopping = self._stop.is_set()
                for st in self._states():
                    name, state = st["package"], st["state"]
                    if state == "started":
                        continue
                    style = STATE_STYLES.get(state, "default")
                    progress.console.print(f"{st['time'][11:19]} {escape(name):<40} [{style}]{state}[/]{escape(_detail(st))}")
                    if state in TERMINAL and name not in finished:
                        finished.add(name)
                        progress.update(task, completed=len(finished))
                if stopping:
                    return
                self._stop.wait(0.3)


def _detail(st: dict[str, Any]) -> str:
    """What a state line adds after the state: the failure, the blocker, a retry, the time and the cache."""
    state = st["state"]
    if state == "failed":
        return f" in {st.get('phase')}: {st.get('error')}"
    if state == "blocked":
        return f" by {st.get('blocked_by')}"
    if state == "testing" and st.get("retry"):
        return f" (retry {st['retry']} of `{st.get('script')}`, which failed)"
    if state == "done":
        cache = st.get("cache") or {}
        restored = f", restored from {cache.get('source')} cache" if cache.get("hit") else ""
        span = f", span {st['span_ms'] / 1000:.1f} s" if st.get("span_ms") else ""
        return f" ({st.get('duration_ms', 0) / 1000:.1f} s of commands{span}{restored})"
    return ""
