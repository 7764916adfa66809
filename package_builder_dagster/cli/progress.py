"""The live progress of `package-builder build`: one progress bar, and a line per package state
change printed above it, read from the run's event log while the run's own process executes it."""

from __future__ import annotations

import threading
from typing import Any

STATE_STYLES = {
    "queued": "dim", "planning": "cyan", "verifying": "cyan", "building": "blue", "testing": "magenta", "checking": "yellow",
    "fixing": "yellow", "publishing": "cyan", "restoring": "cyan", "done": "green", "failed": "bold red", "blocked": "red",
}


class ProgressWatcher:
    """Follows the run's event log and shows a progress bar and a line per package state change."""

    def __init__(self, instance: Any, run_id: str, selected: list[str], console: Any):
        self.instance, self.run_id, self.selected, self.console = instance, run_id, selected, console
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from package_builder_dagster.orchestration.run_events import TERMINAL, read_states

        cursor, finished = None, set()
        with Progress(TextColumn("[bold]packages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, transient=True) as progress:
            task = progress.add_task("build", total=len(self.selected))
            while True:
                stopping = self._stop.is_set()
                try:
                    states, cursor = read_states(self.instance, self.run_id, cursor)
                except Exception:  # the storage may be busy for a moment; try again
                    states = []
                for st in states:
                    name, state = st["package"], st["state"]
                    if state == "started":
                        continue
                    extra = ""
                    if state == "failed":
                        extra = f" in {st.get('phase')}: {st.get('error')}"
                    elif state == "blocked":
                        extra = f" by {st.get('blocked_by')}"
                    elif state == "testing" and st.get("retry"):
                        extra = f" (retry {st['retry']} of `{st.get('script')}`, which failed)"
                    elif state == "done":
                        hit = (st.get("cache") or {}).get("hit")
                        extra = f" ({st.get('duration_ms', 0) / 1000:.1f} s{', restored from ' + str(st['cache'].get('source')) + ' cache' if hit else ''})"
                    style = STATE_STYLES.get(state, "default")
                    progress.console.print(f"{st['time'][11:19]} {escape(name):<40} [{style}]{state}[/]{escape(extra)}")
                    if state in TERMINAL and name not in finished:
                        finished.add(name)
                        progress.update(task, completed=len(finished))
                if stopping:
                    return
                self._stop.wait(0.3)
