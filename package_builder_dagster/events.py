"""Package state changes as Dagster log messages, and reading them back from a run's event log.

The package step logs one message per state change: a human-readable line, then a marker and a
JSON payload. The CLI's live progress and the reports read those payloads back from the event log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .pipeline import PackageOutcome

MARK = " ⟦package-builder⟧ "
TERMINAL = ("done", "failed", "blocked")


def outcome_payload(outcome: PackageOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["checks"] = {
        name: {"passed": c["passed"], "ran": c["ran"], "description": c["description"], "warning_only": c["warning_only"]}
        for name, c in data["checks"].items()
    }
    data.pop("error_detail", None)
    data["outputs_count"] = len(data.pop("outputs", None) or [])
    data["failures"] = [{k: v for k, v in f.items() if k != "output_tail"} for f in data.get("failures", [])[:20]]
    return data


def state_message(package: str, state: str, time: str, detail: dict[str, Any] | None = None) -> str:
    detail = detail or {}
    human = f"{package}: {state}"
    if state == "failed":
        human += f" in {detail.get('phase')}: {detail.get('error')}"
    elif state == "blocked":
        human += f" by {detail.get('blocked_by')}"
    elif state == "done":
        human += f" in {detail.get('duration_ms', 0) / 1000:.1f} s"
    payload = {"package": package, "state": state, "time": time, **detail}
    return human + MARK + json.dumps(payload, default=str)


def parse_message(message: str | None) -> dict[str, Any] | None:
    if not message or MARK not in message:
        return None
    try:
        return json.loads(message.split(MARK, 1)[1])
    except json.JSONDecodeError:
        return None


def read_states(instance: Any, run_id: str, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The package state payloads logged in run `run_id` after `cursor`, and the new cursor."""
    conn = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
    states = []
    for record in conn.records:
        payload = parse_message(record.event_log_entry.user_message)
        if payload:
            states.append(payload)
    return states, conn.cursor if conn.records else cursor


def terminal_states(payloads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each package's terminal payload (done, failed or blocked) among a run's payloads."""
    return {p["package"]: p for p in payloads if p["state"] in TERMINAL}


def final_states(instance: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """Each package's terminal payload in a run (done, failed or blocked)."""
    return terminal_states([p for p in (parse_message(e.user_message) for e in instance.all_logs(run_id)) if p])


@dataclass
class RunLog:
    """What a run's event log says, as plain data: times, selection, and every state payload."""

    run_id: str
    status: str
    start: str | None
    end: str | None
    selection: list[str] | None  # asset keys (user strings); None: everything
    tags: dict[str, str] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)  # in order, each with its `step`
    warnings: list[str] = field(default_factory=list)  # what the steps logged as warnings, each once


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds") if ts else None


def read_run(instance: Any, run_id: str) -> RunLog:
    """Read run `run_id` from the instance's event log."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise KeyError(f"no run {run_id} in this instance")
    stats = instance.get_run_stats(run_id)
    payloads, warnings = [], {}
    for entry in instance.all_logs(run_id):
        payload = parse_message(entry.user_message)
        if payload:
            payload["step"] = entry.step_key
            payloads.append(payload)
        elif entry.dagster_event is None and entry.level == logging.WARNING and entry.user_message:
            warnings.setdefault(entry.user_message, None)
    selection = sorted(k.to_user_string() for k in run.asset_selection) if run.asset_selection else None
    return RunLog(run_id, run.status.value, _iso(stats.start_time), _iso(stats.end_time), selection, dict(run.tags),
                  payloads, list(warnings))
