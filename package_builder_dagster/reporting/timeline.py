"""One self-contained HTML page per run: a Gantt chart of every package by slot, and the figures.

No scripts and no network: inline CSS and SVG only, so the file opens anywhere.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

PHASE_COLOURS = {
    "planning": "#b0bec5", "verifying": "#90a4ae", "building": "#42a5f5", "testing": "#ab47bc",
    "checking": "#ffca28", "fixing": "#ff7043", "publishing": "#26a69a", "restoring": "#9ccc65",
}
WIDTH, ROW, LEFT, TOP = 1100, 26, 70, 40


def _t(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def render_timeline(summary: dict[str, Any]) -> str:
    reports = summary["packageReports"]
    start = _t(summary.get("startTime")) or min((_t(r["startTime"]) or 0 for r in reports), default=0)
    end = _t(summary.get("endTime")) or max((_t(r["endTime"]) or start for r in reports), default=start)
    span = max(end - start, 0.001)
    critical = set(summary.get("criticalPath") or [])
    slots = max((r.get("slot", 0) for r in reports if "slot" in r), default=-1) + 1
    blocked_row = slots
    height = TOP + (slots + 1) * ROW + 40

    def x(iso: str | None) -> float:
        t = _t(iso)
        return LEFT + (WIDTH - LEFT - 10) * (((t or start) - start) / span)

    bars = []
    for r in reports:
        name = escape(r["packageName"])
        classes = ["bar", r["status"]] + (["critical"] if r["packageName"] in critical else [])
        if (r.get("cache") or {}).get("hit"):
            classes.append("restored")
        title = f"{name}: {r['status']}, {r['duration'] / 1000:.1f} s"
        if (r.get("cache") or {}).get("hit"):
            title += f", restored from the {r['cache']['restoredFrom']} cache"
        if r.get("blockedBy"):
            title += f", blocked by {escape(r['blockedBy'])}"
        if r.get("error") and r["status"] == "failed":
            title += f" — {escape(str(r['error'])[:200])}"
        if r["status"] == "blocked" or "slot" not in r:
            px = x(r.get("endTime"))
            y = TOP + blocked_row * ROW
            bars.append(f'<g class="{" ".join(classes)}" data-package="{name}"><title>{title}</title>'
                        f'<rect x="{px:.1f}" y="{y + 4}" width="6" height="{ROW - 8}" class="mark"/>'
                        f'<text x="{px + 8:.1f}" y="{y + ROW - 9}">✕ {name}</text></g>')
            continue
        y = TOP + r["slot"] * ROW
        parts = []
        if r.get("slotWaitTime"):
            ready = x(r["runStart"]) - (WIDTH - LEFT - 10) * (r["slotWaitTime"] / 1000 / span)
            parts.append(f'<rect class="wait" x="{ready:.1f}" y="{y + 9}" width="{max(1.0, x(r["runStart"]) - ready):.1f}" height="{ROW - 18}"/>')
        for ph in r.get("phases") or []:
            x0, x1 = x(ph["start"]), x(ph["end"])
            colour = PHASE_COLOURS.get(ph["phase"], "#9e9e9e")
            parts.append(f'<rect class="phase" data-phase="{ph["phase"]}" x="{x0:.1f}" y="{y + 3}" width="{max(1.0, x1 - x0):.1f}" height="{ROW - 6}" fill="{colour}"/>')
        x0, x1 = x(r["runStart"] or r["startTime"]), x(r["endTime"])
        parts.append(f'<rect class="outline" x="{x0:.1f}" y="{y + 2}" width="{max(1.0, x1 - x0):.1f}" height="{ROW - 4}"/>')
        parts.append(f'<text x="{x0 + 3:.1f}" y="{y + ROW - 9}">{name}</text>')
        bars.append(f'<g class="{" ".join(classes)}" data-package="{name}"><title>{title}</title>{"".join(parts)}</g>')

    axis = []
    for i in range(11):
        px = LEFT + (WIDTH - LEFT - 10) * i / 10
        axis.append(f'<line x1="{px:.1f}" y1="{TOP - 6}" x2="{px:.1f}" y2="{height - 30}" class="grid"/>'
                    f'<text x="{px:.1f}" y="{TOP - 10}" class="tick">{span * i / 10:.1f} s</text>')
    labels = [f'<text x="4" y="{TOP + i * ROW + ROW - 9}" class="slot">slot {i + 1}</text>' for i in range(slots)]
    labels.append(f'<text x="4" y="{TOP + blocked_row * ROW + ROW - 9}" class="slot">blocked</text>')
    legend = "".join(f'<span><i style="background:{c}"></i>{p}</span>' for p, c in PHASE_COLOURS.items())

    figures = [
        ("run", summary["runId"]), ("status", summary.get("runStatus")), ("packages", summary["totalPackages"]),
        ("successful", summary["successful"]), ("failed", summary["failed"]), ("blocked", summary["blocked"]),
        ("wall time", f"{summary['totalDuration'] / 1000:.1f} s"), ("fix attempts", summary["totalFixAttempts"]),
        ("dependency wait", f"{summary['totalWaitTime'] / 1000:.1f} s"),
        ("slot wait", f"{summary.get('totalSlotWaitTime', 0) / 1000:.1f} s"),
        ("slot utilization", f"{summary['slotUtilization']:.0%}" if summary.get("slotUtilization") is not None else "n/a"),
        ("critical path", " → ".join(summary.get("criticalPath") or []) or "n/a"),
        ("priority", summary.get("priority") or "n/a"),
        ("commands' time", f"{summary.get('commandTime', 0) / 1000:.1f} s (lower bound of the wall time {summary.get('lowerBound', 0) / 1000:.1f} s)"),
        ("overhead per package", f"{summary['overheadPerPackage']:.3f} s" if summary.get("overheadPerPackage") is not None else "n/a"),
    ]
    cache = summary.get("cache") or {}
    if cache.get("hits") or cache.get("misses"):
        figures.append(("cache", f"{cache['hits']} hit(s) ({cache['hitsLocal']} local, {cache['hitsRemote']} remote), "
                                 f"{cache['misses']} miss(es), {cache['savedTime'] / 1000:.1f} s saved"))
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in figures)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>package-builder run {escape(summary['runId'])}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 20px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 16px; }} th, td {{ text-align: left; padding: 2px 10px 2px 0; }}
.legend span {{ margin-right: 14px; }} .legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }}
svg text {{ font-size: 11px; fill: #111; pointer-events: none; }} .tick {{ text-anchor: middle; fill: #666; }}
.grid {{ stroke: #eee; }} .outline {{ fill: none; stroke: #555; stroke-width: 1; }}
.wait {{ fill: url(#hatch); }} .failed .outline {{ stroke: #c62828; stroke-width: 3; }}
.blocked .mark {{ fill: #c62828; }} .restored .outline {{ stroke: #2e7d32; stroke-width: 2; stroke-dasharray: 2 2; }} .critical .outline {{ stroke: #000; stroke-width: 3; stroke-dasharray: 6 2; }}
</style></head><body>
<h1>package-builder · {escape(str(summary['buildId']))}</h1>
<table>{rows}</table>
<div class="legend">{legend}<span><i style="background:repeating-linear-gradient(45deg,#999 0 2px,#fff 2px 4px)"></i>waiting for a slot</span>
<span><i style="border:2px dashed #000"></i>critical path</span><span><i style="border:2px dotted #2e7d32"></i>restored from the cache</span><span><i style="border:3px solid #c62828"></i>failed</span></div>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img" aria-label="timeline">
<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="4" fill="#999"/></pattern></defs>
{"".join(axis)}{"".join(labels)}{"".join(bars)}
</svg></body></html>
"""
