"""Reading a run back from its event log: package state changes (log messages, for progress) and
each package's typed record (structured Dagster events, see record.py).

The package step logs one message per state change (a human-readable line, then a marker and a
small JSON payload). A package's outcome is not a log line: it is a `PackageRecord` in its
materialization's metadata, or in an `AssetObservation` when it failed or was blocked.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from package_builder_dagster.execution.record import RECORD_KEY, TERMINAL, PackageRecord, parse_record

MARK = " ⟦package-builder⟧ "


def state_message(package: str, state: str, time: str, detail: dict[str, Any] | None = None) -> str:
    """A state change as a log line: what a person reads, then the marker and the JSON payload."""
    payload = {"package": package, "state": state, "time": time, **(detail or {})}
    return f"{package}: {state}" + MARK + json.dumps(payload, default=str)


def parse_message(message: str | None) -> dict[str, Any] | None:
    if not message or MARK not in message:
        return None
    try:
        return json.loads(message.split(MARK, 1)[1])
    except json.JSONDecodeError:
        return None


def record_of(entry: Any) -> PackageRecord | None:
    """The package record an event log entry carries (a materialization or an observation), if any."""
    event = entry.asset_materialization or entry.asset_observation if entry.dagster_event else None
    if event is None or RECORD_KEY not in event.metadata:
        return None
    record = parse_record(event.metadata[RECORD_KEY].value, f"run {entry.run_id}, asset {event.asset_key.to_user_string()}")
    record.step = entry.step_key
    return record


def read_states(instance: Any, run_id: str, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The state changes of run `run_id` after `cursor` (terminal ones from the records), and the new cursor."""
    conn = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
    states = []
    for rec in conn.records:
        entry = rec.event_log_entry
        payload = parse_message(entry.user_message)
        if payload:
            states.append(payload)
            continue
        record = record_of(entry)
        if record:
            states.append(progress_payload(record))
    return states, conn.cursor if conn.records else cursor


def progress_payload(record: PackageRecord) -> dict[str, Any]:
    """A package's end as a progress line: its state, and what the CLI prints of it."""
    return {"package": record.package, "state": record.state, "time": record.time, "phase": record.phase,
            "error": record.error, "blocked_by": record.blocked_by, "duration_ms": record.duration_ms, "span_ms": record.span_ms,
            "cache": {"hit": record.cache.hit, "source": record.cache.source} if record.cache else None}


def final_states(instance: Any, run_id: str) -> dict[str, PackageRecord]:
    """Each package's record in a run (done, failed or blocked)."""
    records = (record_of(e) for e in instance.all_logs(run_id))
    return {r.package: r for r in records if r is not None}


@dataclass
class RunLog:
    """What a run's event log says: times, selection, state changes and the packages' records."""

    run_id: str
    status: str
    start: str | None
    end: str | None
    selection: list[str] | None  # asset keys (user strings); None: everything
    tags: dict[str, str] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)  # state changes in order, each with its `step`
    records: dict[str, PackageRecord] = field(default_factory=dict)  # package name → its record
    warnings: list[str] = field(default_factory=list)  # what the steps logged as warnings, each once


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") if ts else None


def read_run(instance: Any, run_id: str) -> RunLog:
    """Read run `run_id` from the instance's event log."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise KeyError(f"no run {run_id} in this instance")
    stats = instance.get_run_stats(run_id)
    payloads, records, warnings = [], {}, {}
    for entry in instance.all_logs(run_id):
        payload = parse_message(entry.user_message)
        if payload:
            payload["step"] = entry.step_key
            payloads.append(payload)
            continue
        record = record_of(entry)
        if record:
            records[record.package] = record
        elif entry.dagster_event is None and entry.level == logging.WARNING and entry.user_message:
            warnings.setdefault(entry.user_message, None)
    selection = sorted(k.to_user_string() for k in run.asset_selection) if run.asset_selection else None
    return RunLog(run_id, run.status.value, _iso(stats.start_time), _iso(stats.end_time), selection, dict(run.tags),
                  payloads, records, list(warnings))


__all__ = ["MARK", "TERMINAL", "RunLog", "final_states", "parse_message", "progress_payload", "read_run", "read_states",
           "record_of", "state_message"]
