"""The end of `build`: counts, publish, scheduling and cache figures, flaky and warned packages, each
failed, blocked or unfinished package, the run's own errors, and where the reports are.

Its exit code: 0 when every selected package succeeded, else 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

INTERRUPT_ERRORS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
WARNINGS_SHOWN = 20  # packages with warnings listed; the rest are counted
QUIET_WARNINGS = ("no plan at ", "serialized ")  # said elsewhere (serialized: the scheduling lines)


@dataclass
class BuildOutcome:
    """What the summary reads: the run, the selected packages' records, the reports written."""

    result: Any  # launch.FinishedRun
    selected: list[str]
    states: dict[str, Any]  # package -> PackageRecord, for those that ended (or were blocked)
    elapsed: float
    run_dir: Path
    summary: dict[str, Any]
    suites: set[str]
    began: set[str] = field(default_factory=set)  # the packages whose work started

    def named(self, state: str) -> list[str]:
        return [n for n in self.selected if n in self.states and self.states[n].state == state]

    @property
    def unknown(self) -> list[str]:
        return [n for n in self.selected if n not in self.states]

    @property
    def interrupted(self) -> list[str]:
        """Started, without a record: stopped while it ran."""
        return [n for n in self.unknown if n in self.began]


def print_summary(console: Console, outcome: BuildOutcome) -> int:
    """Print the summary; the exit code (0 only when every selected package succeeded)."""
    failed, blocked = outcome.named("failed"), outcome.named("blocked")
    console.print()
    console.print(_counts_line(outcome))
    _print_figures(console, outcome.summary)
    _print_flaky_and_warned(console, outcome)
    for n in failed:
        console.print(f"  [bold red]failed[/]  {escape(n)} in {outcome.states[n].phase}: {escape(str(outcome.states[n].error))}")
    for n in blocked:
        console.print(f"  [red]blocked[/] {escape(n)} by {escape(str(outcome.states[n].blocked_by))}")
    _print_unfinished(console, outcome.unknown, outcome.interrupted)
    stopped = was_interrupted(outcome.result)
    if stopped:
        console.print("  [yellow]interrupted[/]: the run was stopped before it ended; what finished is kept "
                      "(`build --stale` or `build --failed` goes on from there)")
    if not outcome.result.success:
        _print_run_errors(console, outcome.result, bool(failed or blocked), stopped)
    _print_suite_publishing(console, outcome)
    console.print(f"reports: {outcome.run_dir} (timeline: {outcome.run_dir / 'timeline.html'})")
    return 0 if outcome.result.success and not failed and not blocked and not outcome.unknown else 1


def _counts_line(outcome: BuildOutcome) -> str:
    unknown, interrupted = outcome.unknown, outcome.interrupted
    unfinished = (f" · [yellow]{len(interrupted)} interrupted[/]" if interrupted else "") + (
        f" · {len(unknown) - len(interrupted)} not started" if len(unknown) > len(interrupted) else "")
    return (
        f"[bold]summary[/]: {len(outcome.selected)} selected · [green]{len(outcome.named('done'))} succeeded[/] · "
        f"[red]{len(outcome.named('failed'))} failed[/] · [red]{len(outcome.named('blocked'))} blocked[/]{unfinished} · "
        f"{outcome.elapsed:.1f} s · run {outcome.result.run_id}"
    )


def _print_figures(console: Console, summary: dict[str, Any]) -> None:
    """Publish counts, the scheduling's priority and overhead (and what it serialized), the cache's figures."""
    publish: dict[str, int] = {}
    for report in summary["packageReports"]:
        status = (report.get("publish") or {}).get("status")
        if status:
            publish[status] = publish.get(status, 0) + 1
    if publish:
        console.print("publish: " + " · ".join(f"{count} {status}" for status, count in sorted(publish.items())))
    if summary.get("priority") or summary.get("overheadPerPackage") is not None:
        overhead = summary.get("overheadPerPackage")
        console.print(f"scheduling: priority {summary.get('priority') or 'file order'}"
                      + (f" · overhead {overhead:.2f} s per package" if overhead is not None else ""))
    for entry in (summary.get("serialized") or [])[:10]:  # the order changed to keep outputs from being rewritten under a reader
        parts = [f"held back {', '.join(entry['heldBack'])}" if entry.get("heldBack") else "",
                 f"waited for {', '.join(entry['waitedFor'])}" if entry.get("waitedFor") else ""]
        console.print(f"  [yellow]warning[/] serialized {escape(entry['task'])}: {escape(entry['reason'])[:200]}; "
                      + escape("; ".join(p[:200] for p in parts if p)))
    cache = summary.get("cache") or {}
    if cache.get("hits") or cache.get("misses"):
        console.print(f"cache: {cache['hits']} hit(s) ({cache['hitsLocal']} local, {cache['hitsRemote']} remote) · "
                      f"{cache['misses']} miss(es) · {cache['savedTime'] / 1000:.1f} s of build time saved, summed over {cache['hits']} packages")


def _print_flaky_and_warned(console: Console, outcome: BuildOutcome) -> None:
    """The packages that passed only on a retry (testing.retries), and those that succeeded with
    warnings (e.g. failing tests or checks with testing.failOnError false)."""
    from package_builder_dagster.execution.steps import FLAKY_WARNING

    states, done = outcome.states, outcome.named("done")
    for n in [n for n in outcome.selected if n in states and states[n].flaky]:
        console.print(f"  [yellow]flaky[/]   {escape(n)}: {escape(flaky_line(states[n].flaky))}")
    telling = {n: [w for w in states[n].warnings if not w.startswith((*QUIET_WARNINGS, FLAKY_WARNING))] for n in done}
    warned = [n for n in done if telling[n]]
    for n in warned[:WARNINGS_SHOWN]:
        first = telling[n][0]
        more = f" (+{len(telling[n]) - 1} more)" if len(telling[n]) > 1 else ""
        console.print(f"  [yellow]warning[/] {escape(n)}: {escape(str(first))[:200]}{more}")
    if len(warned) > WARNINGS_SHOWN:
        console.print(f"  [yellow]… {len(warned) - WARNINGS_SHOWN} more package(s) with warnings[/] (in their reports)")


def flaky_line(flaky: Any) -> str:
    """`test` passed on attempt 2 (first failure: …), for each flaky script of a package."""
    failed: dict[str, list[Any]] = {}
    for attempt in flaky.failedAttempts:
        failed.setdefault(attempt.script, []).append(attempt)
    passed = ", ".join(f"`{script}` passed on attempt {len(failed.get(script, [])) + 1}" for script in flaky.scripts)
    first = flaky.failedAttempts[0].error if flaky.failedAttempts else ""
    return f"{passed} (first failure: {first[:160]})"


def _print_unfinished(console: Console, unknown: list[str], interrupted: list[str]) -> None:
    """The packages without an outcome: those stopped while they ran, and how many never started."""
    for n in interrupted:
        console.print(f"  [yellow]interrupted[/] {escape(n)} (stopped while it ran)")
    waiting = [n for n in unknown if n not in interrupted]
    if waiting:
        listed = ", ".join(escape(n) for n in waiting[:10]) + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else "")
        console.print(f"  [red]not started[/]: {listed} (the run ended before they started)")


def _print_run_errors(console: Console, result: Any, listed: bool, stopped: bool) -> None:
    """The failures of the run's own steps; a package step's when no package was `listed` already,
    and none when the run was `stopped` (the interrupt line said so)."""
    for event in result.all_events:
        if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE") and event.message:
            if stopped or event.step_key not in (None, "suite_verification", "suite_summary") and listed:
                continue
            console.print(f"  [red]{escape(event.step_key or 'run')}[/]: {escape(event.message.splitlines()[0])}")
            failure = getattr(event.event_specific_data, "error", None)
            if failure is not None:
                console.print(f"    {escape(str(failure.message).strip().splitlines()[0])}")


def _print_suite_publishing(console: Console, outcome: BuildOutcome) -> None:
    for report in outcome.summary["packageReports"]:
        res = report.get("publish") or {}
        if report["packageName"] in outcome.suites and res.get("status") not in (None, "deferred"):
            console.print(f"suite package {escape(report['packageName'])} ({res['status']}): {escape(str(res.get('message')))}")


def was_interrupted(result: Any) -> bool:
    """Whether the run ended because it was interrupted (Ctrl-C, a killed CLI, terminate in the UI)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "RUN_CANCELED") and (
                getattr(error, "cls_name", None) in INTERRUPT_ERRORS or event.event_type_value == "RUN_CANCELED"):
            return True
    return False
