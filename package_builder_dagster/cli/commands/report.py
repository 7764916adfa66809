"""`package-builder report`: bottlenecks, failure types, agent effectiveness, waits, parallelism and flaky tests,
read back from the reports of one run, one day or a range of days."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, json_option, workspace_options
from package_builder_dagster.errors import UsageError


@click.command("report", help="bottlenecks, failure types, agent effectiveness, waits, parallelism and flaky tests")
@workspace_options(plan=False)
@click.option("--run", "run_id", metavar="ID", help="one run (its id); default: the latest run")
@click.option("--date", metavar="YYYY-MM-DD", help="every run of one day (YYYY-MM-DD, UTC)")
@click.option("--since", metavar="YYYY-MM-DD", help="runs from this day on (YYYY-MM-DD)")
@click.option("--until", metavar="YYYY-MM-DD", help="runs up to this day (YYYY-MM-DD), with --since")
@json_option
def report_command(run_id: str | None, date: str | None, since: str | None, until: str | None, as_json: bool,
                   **flags: Any) -> int:
    from package_builder_dagster.cli.unreported_runs import report_unreported
    from package_builder_dagster.reporting.analysis import analyze

    given = [flag for flag, value in (("--run", run_id), ("--date", date), ("--since", since)) if value is not None]
    if len(given) > 1:
        raise click.UsageError(f"{given[1]} is not allowed with {given[0]}")
    config = ConfigFlags(**flags).load()
    if until and not since:
        raise UsageError("--until needs --since")
    report_unreported(config, sys.stderr)  # stdout may be --json
    result = analyze(_runs(config, run_id, *((date, date) if date else (since, until))))
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_analysis(result)
    return 0


def _runs(config: Any, run_id: str | None, since: str | None, until: str | None) -> list[dict[str, Any]]:
    """The run summaries asked for: one run, the runs of a span of days, or else the latest run."""
    from package_builder_dagster.reporting.reports import find_runs, read_summaries

    runs = read_summaries(find_runs(config.reports_dir, run_id, since, until))
    if not run_id and not since:
        runs = runs[-1:]  # the latest run
    if not runs:
        what = f"run {run_id}" if run_id else f"dates {since or '…'} to {until or '…'}" if since else "any run"
        raise UsageError(f"no report to read for {what} in {config.reports_dir}")
    return runs


def print_analysis(result: dict[str, Any]) -> None:
    """The analysis for a person: the runs, the slowest packages, failures, fix attempts, waits, flaky tests."""
    from package_builder_dagster.cli.output import make_console

    console = make_console()
    _print_runs(console, result["runs"])
    _print_slowest(console, result["slowestPackages"])
    console.print("failure types: " + (", ".join(f"{t} × {n}" for t, n in result["failureTypes"]) or "none"))
    _print_agents(console, result["agents"])
    _print_waits(console, result["waits"])
    _print_flaky(console, result["flakyTests"], len(result["runs"]))
    par = result["parallelism"]
    use = par["meanSlotUtilization"]
    console.print(f"parallelism: {par['slots']} slot(s), mean utilization {f'{use:.0%}' if use is not None else 'n/a'}")


def _print_runs(console: Any, runs: list[dict[str, Any]]) -> None:
    from package_builder_dagster.cli.output import make_table

    table = make_table(f"{len(runs)} run(s)", "run", "status", "started", "pkgs", "ok", "failed", "blocked", "wall s", "slots")
    for run in runs:
        use = run["slotUtilization"]
        table.add_row(run["runId"], str(run["runStatus"]), str(run["startTime"])[:16].replace("T", " "), str(run["totalPackages"]),
                      str(run["successful"]), str(run["failed"]), str(run["blocked"]), f"{run['totalDuration'] / 1000:.1f}",
                      f"{use:.0%}" if use is not None else "-")
    console.print(table)
    for run in runs:
        if run["criticalPath"]:
            console.print(f"critical path of {run['runId']}: {' → '.join(run['criticalPath'])}")


def _print_slowest(console: Any, slowest: list[dict[str, Any]]) -> None:
    from package_builder_dagster.cli.output import make_table

    table = make_table("slowest packages (their own commands' time)", "package", "s", "status")
    for item in slowest:
        table.add_row(item["packageName"], f"{item['duration'] / 1000:.1f}", item["status"])
    console.print(table)


def _print_agents(console: Any, agents: dict[str, Any]) -> None:
    console.print(f"fix attempts: {agents['attempts']} on {agents['packagesAttempted']} package(s), {agents['packagesFixed']} fixed")
    for prompt, stats in agents["byPrompt"].items():
        console.print(f"  {prompt}: {stats['fixed']}/{stats['attempts']} attempts fixed ({stats['successRate']:.0%})")


def _print_waits(console: Any, waits: dict[str, Any]) -> None:
    console.print(f"dependency wait: {waits['totalDependencyWait'] / 1000:.1f} s summed over {waits['waitingPackages']} packages; "
                  f"slot wait: {waits['totalSlotWait'] / 1000:.1f} s summed over {waits['slotWaitingPackages']} packages")
    for w in waits["longest"]:
        console.print(f"  {w['packageName']} waited {w['waitTime'] / 1000:.1f} s for {w['dependency']}")


def _print_flaky(console: Any, flaky: list[dict[str, Any]], covered: int) -> None:
    from rich.markup import escape

    console.print(f"flaky tests (failed, then passed on a retry): {len(flaky) or 'none'}" + (" package(s)" if flaky else ""))
    for item in flaky:
        console.print(f"  {escape(item['packageName'])}: flaky in {item['runs']} of {covered} run(s), "
                      f"{item['failedAttempts']} failed attempt(s); latest: {escape(str(item['lastError'])[:160])}")
