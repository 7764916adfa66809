"""One self-contained HTML page per run: a Gantt chart with one row per package, and the figures.

No scripts and no network: inline CSS and SVG only, so the file opens anywhere. The page itself is the
jinja2 template `templates/timeline.html.j2` (autoescaped: package names and error text are data);
this module only turns the suite summary into plain data: rows, bars, ticks, figures.

One row per package, labelled with its name and sorted by start, rather than one row per slot: the
`slot` in a report is the timeline's own estimate (`reports.assign_slots`), not the slot the scheduler
gave, and a package's tasks can overlap each other, so one package can hold several slots at once;
slot rows would draw bars on top of each other or more rows than the run had slots. The estimated
slot is in each bar's tooltip. Every duration printed is at most the run's wall time (a package's
own spans are clipped to the run) unless it says it is a sum over packages.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2

PHASE_COLOURS = {
    "planning": "#b0bec5", "verifying": "#90a4ae", "building": "#42a5f5", "testing": "#ab47bc",
    "checking": "#ffca28", "fixing": "#ff7043", "publishing": "#26a69a", "restoring": "#9ccc65",
}
OTHER_PHASE = "#9e9e9e"
WIDTH, ROW, TOP = 1100, 26, 40
LABEL_CHARS = 40  # longer package names are cut in the row label (the tooltip has them whole)


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("package_builder_dagster.reporting", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("timeline.html.j2")


def _t(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s"


def _ms(ms: float | None) -> str:
    return _s((ms or 0) / 1000)


class Scale:
    """Seconds since the run's start to x, every time clipped to the run."""

    def __init__(self, start: float, end: float, left: float):
        self.start, self.end, self.left = start, max(end, start + 0.001), left
        self.span = self.end - self.start

    def clip(self, iso: str | None) -> float:
        t = _t(iso)
        return self.within(self.start if t is None else t)

    def within(self, t: float) -> float:
        return min(max(t, self.start), self.end)

    def x(self, iso: str | None) -> float:
        return self.at(self.clip(iso))

    def at(self, t: float) -> float:
        return round(self.left + (WIDTH - self.left - 10) * (t - self.start) / self.span, 1)

    def seconds(self, a: str | None, b: str | None) -> float:
        return max(0.0, self.clip(b) - self.clip(a))


def _window(summary: dict[str, Any], reports: list[dict[str, Any]]) -> tuple[float, float]:
    start = _t(summary.get("startTime")) or min((_t(r.get("startTime")) or 0 for r in reports), default=0)
    end = _t(summary.get("endTime")) or max((_t(r.get("endTime")) or start for r in reports), default=start)
    return start, end


def _begin(r: dict[str, Any]) -> str | None:
    return r.get("runStart") or r.get("startTime")


def _drawn_as_mark(r: dict[str, Any]) -> bool:
    return r["status"] == "blocked" or not _begin(r)


def _row_order(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Packages that ran by their start, then the blocked ones (and any that never started) by when."""
    def key(r: dict[str, Any]) -> tuple[bool, float, str]:
        mark = _drawn_as_mark(r)
        return mark, _t(r.get("endTime") if mark else _begin(r)) or 0.0, r["packageName"]
    return sorted(reports, key=key)


def _classes(r: dict[str, Any], critical: set[str]) -> str:
    classes = ["bar", r["status"]] + (["critical"] if r["packageName"] in critical else [])
    if (r.get("cache") or {}).get("hit"):
        classes.append("restored")
    return " ".join(classes)


def _slot_note(r: dict[str, Any], slots: int | None) -> str | None:
    if "slot" not in r:
        return None
    if slots and r["slot"] >= slots:
        return f"slot n/a (more than {slots} packages were under way: slots hold tasks, not packages)"
    return f"slot {r['slot'] + 1}" + (f" of {slots}" if slots else "") + " (estimated)"


def _title(r: dict[str, Any], scale: Scale, slots: int | None) -> str:
    """The bar's tooltip: status, time in the run, slot, slot wait, cache, blocked by, error."""
    parts = [f"{r['packageName']}: {r['status']}"]
    if not _drawn_as_mark(r):
        parts.append(f"ran {_s(scale.seconds(_begin(r), r.get('endTime')))}")
    if note := _slot_note(r, slots):
        parts.append(note)
    if r.get("slotWaitTime"):
        ready, began = _slot_wait(r, scale)
        parts.append(f"waited {_s(began - ready)} for a slot")
    if (r.get("cache") or {}).get("hit"):
        parts.append(f"restored from the {r['cache'].get('restoredFrom')} cache")
    if r.get("blockedBy"):
        parts.append(f"blocked by {r['blockedBy']}")
    title = ", ".join(parts)
    if r.get("error") and r["status"] == "failed":
        title += f" — {str(r['error'])[:200]}"
    return title


def _slot_wait(r: dict[str, Any], scale: Scale) -> tuple[float, float]:
    """When the package waited for a slot (from ready to its start), within the run."""
    began = _t(r.get("runStart")) or scale.start
    return scale.within(began - r["slotWaitTime"] / 1000), scale.within(began)


def _phases(r: dict[str, Any], scale: Scale) -> list[dict[str, Any]]:
    phases = []
    for ph in r.get("phases") or []:
        x0, x1 = scale.x(ph["start"]), scale.x(ph["end"])
        phases.append({"phase": ph["phase"], "x": x0, "width": max(1.0, round(x1 - x0, 1)),
                       "colour": PHASE_COLOURS.get(ph["phase"], OTHER_PHASE),
                       "title": f"{ph['phase']} {_s(scale.seconds(ph['start'], ph['end']))}"})
    return phases


def _bar(r: dict[str, Any], y: int, scale: Scale, critical: set[str], slots: int | None) -> dict[str, Any]:
    """One package's row as plain data: a mark (blocked, never started) or a bar with its phases."""
    bar: dict[str, Any] = {"package": r["packageName"], "classes": _classes(r, critical), "y": y,
                           "title": _title(r, scale, slots), "mark": _drawn_as_mark(r)}
    if bar["mark"]:
        bar["x"] = scale.x(r.get("endTime"))
        bar["text"] = f"✕ blocked by {r['blockedBy']}" if r.get("blockedBy") else f"✕ {r['status']}"
        fits = bar["x"] + 8 + 6.5 * len(bar["text"]) < WIDTH
        bar["text_x"], bar["text_anchor"] = (bar["x"] + 8, "start") if fits else (bar["x"] - 4, "end")
        return bar
    x0, x1 = scale.x(_begin(r)), scale.x(r.get("endTime"))
    bar.update(x=x0, width=max(1.0, round(x1 - x0, 1)), phases=_phases(r, scale), wait=None,
               text=_s(scale.seconds(_begin(r), r.get("endTime"))))
    if r.get("slotWaitTime") and r.get("runStart"):
        ready, began = (scale.at(t) for t in _slot_wait(r, scale))
        bar["wait"] = {"x": ready, "width": max(1.0, round(began - ready, 1))}
    bar["text_x"], bar["text_anchor"] = _text_place(bar["wait"]["x"] if bar["wait"] else x0, x1, scale.left)
    return bar


def _text_place(x0: float, x1: float, left: float) -> tuple[float, str]:
    """Where a bar's duration goes: after the bar, else before it, else inside its right end."""
    if x1 < WIDTH - 60:
        return x1 + 4, "start"
    return (x0 - 4, "end") if x0 - 50 > left else (x1 - 4, "end")


def _tick_step(span: float) -> float:
    """The smallest of 1, 2, 5 × 10^k seconds that cuts `span` into at most 10 parts."""
    unit = 10.0 ** math.floor(math.log10(span / 10))
    return next(unit * m for m in (1, 2, 5, 10) if span / (unit * m) <= 10.01)


def _ticks(scale: Scale, bottom: int) -> list[dict[str, Any]]:
    step = _tick_step(scale.span)
    digits = max(0, -math.floor(math.log10(step)))
    ticks = []
    for i in range(int(scale.span / step + 1e-9) + 1):
        x = scale.at(scale.start + i * step)
        ticks.append({"x": x, "top": TOP - 6, "bottom": bottom, "label": f"{i * step:.{digits}f} s",
                      "anchor": "end" if x > WIDTH - 25 else "middle"})
    return ticks


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[:LABEL_CHARS - 1] + "…"


def _sum(ms: float, n: int) -> str:
    """A total over packages, said to be one: it can be more than the wall time."""
    return f"{_ms(ms)}, summed over {n} package{'' if n == 1 else 's'}" if n else _ms(0)


def _figures(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The table above the chart: every duration at most the wall time, or labelled as a sum."""
    reports = summary["packageReports"]
    wall = summary.get("totalDuration") or 0
    waited = sum(1 for r in reports if any(w.get("waitTime") for w in r.get("waitedFor") or []))
    slot_waited = sum(1 for r in reports if r.get("slotWaitTime"))
    ran = sum(1 for r in reports if any("script" in ph for ph in r.get("phases") or [])) or \
        sum(1 for r in reports if r.get("runStart"))
    bound = summary.get("lowerBound") or 0
    optional = summary.get("slotUtilization"), summary.get("overheadPerPackage")
    figures = [
        ("run", summary["runId"]), ("status", summary.get("runStatus")), ("packages", summary["totalPackages"]),
        ("successful", summary["successful"]), ("failed", summary["failed"]), ("blocked", summary["blocked"]),
        ("wall time", _ms(wall)), ("slots", summary.get("slots") or "n/a"),
        ("fix attempts", summary["totalFixAttempts"]),
        ("dependency wait", _sum(summary.get("totalWaitTime") or 0, waited)),
        ("slot wait", _sum(summary.get("totalSlotWaitTime") or 0, slot_waited)),
        ("slot utilization", f"{optional[0]:.0%}" if optional[0] is not None else "n/a"),
        ("critical path", " → ".join(summary.get("criticalPath") or []) or "n/a"),
        ("priority", summary.get("priority") or "n/a"),
        ("commands' time", _sum(summary.get("commandTime") or 0, ran)),
        ("lower bound of the wall time", _ms(bound) if bound <= wall else "n/a (overlapping commands counted twice)"),
        ("overhead per package", f"{optional[1]:.3f} s" if optional[1] is not None else "n/a"),
    ]
    cache = summary.get("cache") or {}
    if cache.get("hits") or cache.get("misses"):
        figures.append(("cache", f"{cache['hits']} hit(s) ({cache['hitsLocal']} local, {cache['hitsRemote']} remote), "
                                 f"{cache['misses']} miss(es), saved {_sum(cache['savedTime'], cache['hits'])}"))
    return figures


def timeline_data(summary: dict[str, Any]) -> dict[str, Any]:
    """Everything the template draws, as plain data."""
    reports = _row_order(summary["packageReports"])
    left = 12 + round(6.5 * min(LABEL_CHARS, max((len(r["packageName"]) for r in reports), default=6)))
    scale = Scale(*_window(summary, reports), left=max(70, left))
    critical = set(summary.get("criticalPath") or [])
    height = TOP + max(1, len(reports)) * ROW + 40
    rows = [{"label": _label(r["packageName"]), "package": r["packageName"], "y": TOP + i * ROW}
            for i, r in enumerate(reports)]
    bars = [_bar(r, TOP + i * ROW, scale, critical, summary.get("slots")) for i, r in enumerate(reports)]
    return {"run_id": summary["runId"], "build_id": str(summary["buildId"]), "figures": _figures(summary),
            "phase_colours": PHASE_COLOURS, "width": WIDTH, "height": height, "row_h": ROW, "left": scale.left,
            "ticks": _ticks(scale, height - 30), "rows": rows, "bars": bars}


def render_timeline(summary: dict[str, Any]) -> str:
    return _template().render(**timeline_data(summary))
