"""The HTML timeline rendered in-process from a synthetic suite summary: one bar per package with its
classes, one row per package labelled with its name, hostile names and error text escaped, and no
duration printed longer than the run unless it says it is a sum. No Dagster, no subprocess."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from package_builder_dagster.reporting.timeline import render_timeline

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
WALL_S = 20.0
HOSTILE = "<script>alert(1)</script>"
HOSTILE_ERROR = "</title><script>alert(2)</script> & \"quoted\""


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def report(name, status, start, end, deps=(), *, run_start=None, slot_wait=0.0, phases=(), **extra):
    """A package report as reports.derive_run writes it (the fields the timeline reads). `slot` is given
    as reports.assign_slots would (the lowest slot free at its start): importing reports costs ~1 s."""
    run_start = start if run_start is None and status != "blocked" else run_start
    return {"packageName": name, "status": status, "startTime": at(start) if start is not None else None,
            "endTime": at(end), "duration": int((end - (start or end)) * 1000),
            "runStart": at(run_start) if run_start is not None else None,
            "slotWaitTime": int(slot_wait * 1000), "dependencies": list(deps), "fixAttempts": [],
            "waitedFor": [{"packageName": d, "waitTime": 9_000} for d in deps],
            "phases": [{"phase": p, "start": at(a), "end": at(b), **({"script": p} if p in ("building", "testing") else {})}
                       for p, a, b in phases],
            "cache": None, "error": None, "blockedBy": None, **extra}


def synthetic_summary() -> dict:
    """A chain plus a fan-out at 2 slots: one failed (a hostile name), one blocked, one restored."""
    reports = [
        # a chain: core -> mid -> top (the critical path)
        report("@ex/core", "success", 0.0, 6.0, slot=1, phases=[("building", 0.5, 4.0), ("testing", 4.0, 6.0)]),
        report("@ex/mid", "success", 6.0, 12.0, ["@ex/core"], slot=1, phases=[("building", 6.0, 9.0), ("testing", 9.0, 12.0)]),
        report("@ex/top", "success", 12.0, 20.0, ["@ex/mid"], slot=1, phases=[("building", 12.0, 20.0)]),
        # a fan-out from core: one fails, one waits for a slot, one is restored from the cache
        report(HOSTILE, "failed", 6.0, 10.0, ["@ex/core"], slot=2, phases=[("building", 6.0, 8.0), ("fixing", 8.0, 10.0)],
               error=HOSTILE_ERROR),
        report("@ex/fan-slow", "success", 6.0, 15.0, ["@ex/core"], run_start=8.0, slot_wait=2.0, slot=0,
               phases=[("building", 8.0, 15.0)]),
        # restored: its record began 30 s and its restore 3 s before the run (a record duration of 37 s): clipped
        report("@ex/restored", "success", -30.0, 7.0, ["@ex/core"], run_start=-3.0, slot=0, phases=[("restoring", -3.0, 7.0)],
               cache={"hit": True, "restoredFrom": "local", "savedTime": 25_000}),
        report("@ex/blocked", "blocked", None, 10.0, [HOSTILE], blockedBy=HOSTILE),
    ]
    return {
        "buildId": "suite", "runId": "run-1", "runStatus": "FAILURE", "startTime": at(0), "endTime": at(WALL_S),
        "totalPackages": len(reports), "successful": 5, "failed": 1, "blocked": 1,
        "totalDuration": int(WALL_S * 1000), "totalFixAttempts": 1,
        "totalWaitTime": sum(w["waitTime"] for r in reports for w in r["waitedFor"]),  # 54 s: a sum
        "totalSlotWaitTime": 2_000, "criticalPath": ["@ex/core", "@ex/mid", "@ex/top"],
        "cache": {"hits": 1, "hitsLocal": 1, "hitsRemote": 0, "misses": 5, "savedTime": 25_000},
        "slots": 2, "slotUtilization": 0.9, "priority": "longest path", "commandTime": 41_500,  # a sum, > wall
        "lowerBound": 22_000,  # more than the wall: overlapping commands (not printed as a duration)
        "overheadPerPackage": 0.1, "packageReports": reports,
    }


@pytest.fixture
def summary():
    return synthetic_summary()


class Page(HTMLParser):
    """The elements the test reads: bars, row labels, and every text node with its enclosing tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.bars: dict[str, str] = {}
        self.outlines: dict[str, int] = {}
        self.labels: list[str] = []
        self.texts: list[tuple[str, str]] = []  # (innermost tag, text)
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.scripts += tag == "script"
        bar = next((t for t in reversed(self.stack) if t[0] == "g"), None)
        if tag == "g" and "bar" in a.get("class", "").split():
            self.bars[a["data-package"]] = a["class"]
        if tag == "rect" and "outline" in a.get("class", "") and bar:
            self.outlines[bar[1]["data-package"]] = self.outlines.get(bar[1]["data-package"], 0) + 1
        if tag == "text" and "package" in a.get("class", "").split():
            self.labels.append(a["data-package"])
        if tag != "meta":  # the one void element the page does not close
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip():
            self.texts.append((self.stack[-1][0] if self.stack else "", data))


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def test_one_bar_per_package_with_its_classes(summary):
    page = parse(render_timeline(summary))
    names = [r["packageName"] for r in summary["packageReports"]]
    assert sorted(page.bars) == sorted(names)
    classes = {name: set(c.split()) for name, c in page.bars.items()}
    assert classes["@ex/core"] == classes["@ex/mid"] == classes["@ex/top"] == {"bar", "success", "critical"}
    assert classes[HOSTILE] == {"bar", "failed"}
    assert page.bars["@ex/blocked"].split() == ["bar", "blocked"]
    assert classes["@ex/restored"] == {"bar", "success", "restored"}
    assert classes["@ex/fan-slow"] == {"bar", "success"}
    # every package that ran has an outline, the blocked one a mark only
    assert page.outlines == {name: 1 for name in names if name != "@ex/blocked"}


def test_rows_are_labelled_by_package_sorted_by_start(summary):
    html = render_timeline(summary)
    page = parse(html)
    assert not re.search(r">\s*slot \d", html)  # no row labelled "slot N"
    assert page.labels == ["@ex/restored", "@ex/core", HOSTILE, "@ex/mid", "@ex/fan-slow", "@ex/top", "@ex/blocked"]
    row_texts = [t for tag, t in page.texts if tag == "text" and t in page.labels]
    assert row_texts == page.labels
    # the estimated slot is in the tooltip; beyond the run's 2 slots, the tooltip says so
    titles = [t for tag, t in page.texts if tag == "title"]
    assert any(t.startswith("@ex/core: success") and "slot 2 of 2" in t for t in titles)
    assert any(t.startswith(f"{HOSTILE}: failed") and "slot n/a (more than 2 packages" in t for t in titles)


def test_names_and_error_text_are_escaped(summary):
    html = render_timeline(summary)
    assert "<script" not in html and "</title><script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert page.scripts == 0
    assert HOSTILE in page.bars and HOSTILE in page.labels
    assert any(HOSTILE_ERROR in t for tag, t in page.texts if tag == "title")
    assert any(t == f"✕ blocked by {HOSTILE}" for _, t in page.texts)


DURATION = re.compile(r"(\d+(?:\.\d+)?) s\b")


def test_no_printed_duration_exceeds_the_wall_time_unless_a_sum(summary):
    page = parse(render_timeline(summary))
    seen = []
    for tag, text in page.texts:
        for value in map(float, DURATION.findall(text)):
            seen.append(value)
            assert value <= WALL_S or "summed over" in text, (tag, text)
    assert WALL_S in seen  # the wall time itself, and the last tick
    figures = dict(zip([t for tag, t in page.texts if tag == "th"], [t for tag, t in page.texts if tag == "td"], strict=True))
    assert figures["wall time"] == "20.0 s"
    assert figures["dependency wait"] == "54.0 s, summed over 6 packages"
    assert figures["commands' time"] == "41.5 s, summed over 5 packages"
    assert figures["cache"].endswith("saved 25.0 s, summed over 1 package")
    assert figures["lower bound of the wall time"].startswith("n/a")
    # the restored package began before the run: its bar, tooltip and phase start with the run
    restored = [t for tag, t in page.texts if tag == "title" and t.startswith("@ex/restored:")]
    assert restored and all("ran 7.0 s" in t for t in restored) and restored[-1].endswith("restoring 7.0 s")
