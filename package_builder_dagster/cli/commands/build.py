"""`package-builder build`: a real Dagster materialization of the packages, step by step as it
narrates them: late reports, the up-to-date fast path, the workspace, the lock, orphaned runs, the
selection, the launch, the live progress, the reports and the summary."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from package_builder_dagster.cli.build_context import BuildContext, BuildRequest
from package_builder_dagster.cli.options import ConfigFlags, workspace_options
from package_builder_dagster.discovery.config import BuildConfig

if TYPE_CHECKING:
    import dagster as dg


@click.command("build", help="materialize the package assets (a real Dagster run)")
@workspace_options()
@click.option("--select", multiple=True, metavar="SEL", help="Dagster asset selection; package names allowed (repeatable)")
@click.option("--concurrency", type=int, metavar="N", help="packages built at once (maxConcurrentBuilds)")
@click.option("--stale", is_flag=True, help="only packages missing, stale or failed last time, and their dependents")
@click.option("--failed", is_flag=True, help="only the packages that failed or were blocked in the latest run")
@click.option("--since", metavar="REF", help="only packages with files changed since git REF, and their dependents")
@click.option("--publish", is_flag=True, help="publish each package that passed (publishing.enabled)")
@click.option("--publish-dry-run", is_flag=True, help="run the publish commands with --dry-run (implies --publish)")
@click.option("--registry", metavar="URL", help="npm registry URL (npmRegistry; env PACKAGE_BUILDER_REGISTRY)")
@click.option("--cache", type=click.Choice(["local", "remote", "both", "off"]),
              help="artifact stores to use (cache.mode; default both with cache.remote.url, else local)")
def build_command(select: tuple[str, ...], stale: bool, failed: bool, since: str | None, **flags: Any) -> int:
    return run_build(BuildRequest(select, stale, failed, since), ConfigFlags(**flags).load())


def run_build(request: BuildRequest, config: BuildConfig) -> int:
    """The whole `build`; its exit code (0 every selected package succeeded or nothing to do, 1 not)."""
    from package_builder_dagster.cli.build_selection import UP_TO_DATE, select_keys, up_to_date
    from package_builder_dagster.cli.unreported_runs import report_unreported

    report_unreported(config)  # first: --stale and --failed read what the reports say
    if request.stale_only and up_to_date(config):
        print(UP_TO_DATE)
        return 0
    ctx, _lock = open_workspace(config)  # the build lock is held while this function runs
    recover_orphans(ctx)
    keys = select_keys(request, ctx)
    if keys is None:
        return 0
    if not keys:
        ctx.console.print("nothing to do: the selection names no package")
        return 0
    selected = [n for n in ctx.graph.packages if ctx.key(n) in keys]
    run_id, proc = launch(ctx, keys, selected)
    started, exit_code = follow(ctx, run_id, proc, selected)
    return finish(ctx, run_id, exit_code, selected, started)


def open_workspace(config: BuildConfig) -> tuple[BuildContext, Any]:
    """Discover the workspace, make its definitions, take the build lock (before the storage is
    opened) and open the instance; the graph's warnings are printed. The lock is returned: keep it."""
    from package_builder_dagster.cli.output import make_console
    from package_builder_dagster.discovery.package_managers import _which, detect_package_manager
    from package_builder_dagster.orchestration.definitions import build_definitions, discover_for
    from package_builder_dagster.orchestration.instance import BuildLock, get_instance, prepare_home
    from package_builder_dagster.orchestration.translator import PackageTranslator

    console = make_console()
    graph = discover_for(config)
    _which("node", "every package script runs on node")
    package_manager = detect_package_manager(graph.root)
    translator = PackageTranslator()
    defs = build_definitions(config, graph, translator, preload_run_job=True)  # the run's job, reused by launch
    lock = BuildLock(prepare_home(config))
    lock.acquire()
    ctx = BuildContext(config, console, graph, translator, defs, package_manager, get_instance(config))
    for w in graph.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    return ctx, lock


def recover_orphans(ctx: BuildContext) -> None:
    """Runs left in progress by a build process that is gone: marked failed, and their reports written."""
    from package_builder_dagster.orchestration.instance import recover_orphaned_runs
    from package_builder_dagster.orchestration.run_reports import report_run

    for run_id in recover_orphaned_runs(ctx.instance):
        ctx.console.print(f"[yellow]run {run_id} was left in progress by a build process that is gone: marked failed[/]")
        report_run(ctx.instance, run_id, ctx.config, ctx.graph, ctx.translator)


def launch(ctx: BuildContext, keys: set[dg.AssetKey], selected: list[str]) -> tuple[str, subprocess.Popen]:
    """Start the run in a process of its own (marked unreported until its reports are written: a
    killed CLI's next command reports it)."""
    from package_builder_dagster.distributed.source_tree import run_tags  # dagster.executor: the commit workers build
    from package_builder_dagster.orchestration.instance import process_tags
    from package_builder_dagster.orchestration.launch import execute_build_run
    from package_builder_dagster.orchestration.unreported import mark_unreported

    config, console = ctx.config, ctx.console
    commit_tags = run_tags(config, lambda message: console.print(f"[yellow]warning:[/] {message}"))
    console.print(
        f"[bold]package-builder[/] {ctx.graph.root} · {len(selected)} package(s) · {ctx.package_manager.kind} · "
        f"{config.maxConcurrentBuilds} at a time · Dagster home {ctx.instance.root_directory}"
    )
    run_id, proc = execute_build_run(ctx.instance, config, ctx.translator, keys, {**process_tags(), **commit_tags},
                                     config.logs_dir / "run-processes" / f"{os.getpid()}.log", ctx.graph, ctx.defs)
    mark_unreported(Path(ctx.instance.root_directory), run_id, os.getpid(), proc.pid)
    return run_id, proc


def follow(ctx: BuildContext, run_id: str, proc: subprocess.Popen, selected: list[str]) -> tuple[float, int]:
    """Show the run's progress until its process exits (Ctrl-C is passed on to it); when following
    began, and the process's exit code."""
    from package_builder_dagster.cli.progress import ProgressWatcher
    from package_builder_dagster.orchestration.launch import wait_for
    from package_builder_dagster.orchestration.progress_file import progress_path

    watcher = ProgressWatcher(ctx.instance, run_id, selected, ctx.console, progress_path(ctx.config.logs_dir, run_id))
    watcher.start()
    started = time.monotonic()
    try:
        return started, wait_for(proc)
    finally:
        watcher.stop()


def finish(ctx: BuildContext, run_id: str, exit_code: int, selected: list[str], started: float) -> int:
    """Read the run back once, write its reports, print its warnings and the summary; the exit code."""
    from rich.markup import escape

    from package_builder_dagster.cli.build_summary import BuildOutcome, print_summary
    from package_builder_dagster.orchestration.launch import finished_run
    from package_builder_dagster.orchestration.run_events import read_run
    from package_builder_dagster.orchestration.run_reports import report_run
    from package_builder_dagster.orchestration.unreported import clear_unreported
    from package_builder_dagster.reporting.reports import run_records

    result = finished_run(ctx.instance, run_id, exit_code)
    log = read_run(ctx.instance, result.run_id)  # once: the summary, the warnings and the reports all come from it
    for message in log.warnings:
        ctx.console.print(f"[yellow]warning:[/] {escape(message)}")
    run_dir, summary = report_run(ctx.instance, result.run_id, ctx.config, ctx.graph, ctx.translator, log)
    clear_unreported(Path(ctx.instance.root_directory), result.run_id)
    # the packages that ended, and those Dagster skipped after a failure (blocked); not those the run ended before
    states = {n: r for n, r in run_records(log, ctx.graph, selected, log.end or "").items() if n in log.records or r.state == "blocked"}
    outcome = BuildOutcome(
        result=result, selected=selected, states=states, elapsed=time.monotonic() - started, run_dir=run_dir, summary=summary,
        suites={p.name for p in ctx.graph if p.category == "suite"},
        began={p["package"] for p in log.payloads if p.get("state") == "started"},
    )
    return print_summary(ctx.console, outcome)
