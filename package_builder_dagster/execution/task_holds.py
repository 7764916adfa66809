"""Readers/writer holds on a package's outputs while its tasks run, and the hold-backs they cause.

What a task holds comes from `execution.output_hazards` (`Hold`); the scheduler takes a task's holds
all at once when it starts the task and gives them back when it ends. No Dagster here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from package_builder_dagster.execution.output_hazards import Hold
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.steps import now_iso

TaskKey = tuple[str, str]  # (package, task)


class TaskHolds:
    """Readers/writer holds on outputs, taken all at once when a task starts. Ready tasks are tried in
    priority order; one that cannot start reserves its holds for the rest of the pass, so a task of
    lower priority never overtakes it on the same outputs."""

    def __init__(self, holds: Callable[[str, str], Hold]):
        self.holds = holds
        self.cache: dict[TaskKey, Hold] = {}
        self.shared: dict[str, set[TaskKey]] = {}  # resource → running tasks that read it
        self.exclusive: dict[str, TaskKey] = {}  # resource → the running task that rewrites it
        self.want_shared: dict[str, TaskKey] = {}  # this pass: resource → a held-back task of higher priority
        self.want_exclusive: dict[str, TaskKey] = {}
        self.serialized: dict[TaskKey, dict[str, Any]] = {}  # writer task → its report entry
        self.noted: set[tuple[TaskKey, TaskKey]] = set()

    def hold(self, key: TaskKey) -> Hold:
        if key not in self.cache:
            self.cache[key] = self.holds(*key) or Hold()
        return self.cache[key]

    def new_pass(self) -> None:
        self.want_shared.clear()
        self.want_exclusive.clear()

    def acquire(self, package: str, task: str) -> bool:
        """Take the task's holds, or (when one conflicts) reserve them for this pass and say False."""
        key = (package, task)
        h = self.hold(key)
        if not h:
            return True
        conflicts = self._conflicts(key, h)
        if conflicts:
            for writer, other in conflicts:
                self._note(writer, other, held=other == key)
            for r in h.exclusive:
                self.want_exclusive.setdefault(r, key)
            for r in h.shared:
                self.want_shared.setdefault(r, key)
            return False
        for r in h.exclusive:
            self.exclusive[r] = key
        for r in h.shared:
            self.shared.setdefault(r, set()).add(key)
        return True

    def _conflicts(self, key: TaskKey, h: Hold) -> list[tuple[TaskKey, TaskKey]]:
        """What stands in the way of `key`'s holds, as (the writer, the other task) pairs."""
        conflicts: list[tuple[TaskKey, TaskKey]] = []
        for r in h.exclusive:
            if r in self.exclusive:
                conflicts.append((self.exclusive[r], key))
            elif r in self.want_exclusive:
                conflicts.append((self.want_exclusive[r], key))
            conflicts += [(key, other) for other in self.shared.get(r, ())]
            if r in self.want_shared:
                conflicts.append((key, self.want_shared[r]))
        for r in h.shared:
            if r in self.exclusive:
                conflicts.append((self.exclusive[r], key))
            elif r in self.want_exclusive:
                conflicts.append((self.want_exclusive[r], key))
        return conflicts

    def release(self, package: str, task: str) -> None:
        key = (package, task)
        h = self.cache.get(key)
        if not h:
            return
        for r in h.exclusive:
            if self.exclusive.get(r) == key:
                del self.exclusive[r]
        for r in h.shared:
            self.shared.get(r, set()).discard(key)

    def _note(self, writer: TaskKey, other: TaskKey, held: bool) -> None:
        """`held`: `other` waited for `writer`; otherwise `writer` waited for `other`."""
        if (writer, other) in self.noted or writer == other:
            return
        self.noted.add((writer, other))
        entry = self.serialized.setdefault(writer, {
            "task": f"{writer[0]}#{writer[1]}", "reason": self.hold(writer).reason or "it rewrites outputs others read",
            "heldBack": [], "waitedFor": [], "time": now_iso()})
        entry["heldBack" if held else "waitedFor"].append(f"{other[0]}#{other[1]}")

    def entries(self, package: str) -> list[dict[str, Any]]:
        return [e for (p, _), e in self.serialized.items() if p == package]

    def with_serialized(self, out: PackageRecord, package: str) -> PackageRecord:
        """The outcome with the hold-backs its tasks caused, and a warning that says so."""
        for entry in self.entries(package):
            if entry in out.serialized:
                continue
            out.serialized.append(entry)
            parts = []
            if entry["heldBack"]:
                parts.append(f"held back {_first_five(entry['heldBack'])} while it ran")
            if entry["waitedFor"]:
                parts.append(f"waited for {_first_five(entry['waitedFor'])}")
            out.warnings.append(f"serialized {entry['task'].split('#', 1)[1]}: {entry['reason']}; {' and '.join(parts)}")
        return out


def _first_five(tasks: list[str]) -> str:
    return f"{', '.join(tasks[:5])}{' …' if len(tasks) > 5 else ''}"
