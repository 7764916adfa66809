"""`package-builder`: graph, build, ui (and example, to make a monorepo to try it on).

Exit codes: 0 every selected package succeeded (or nothing to do); 1 a package failed or was
blocked, or a fault of the machine such as a full disk; 2 bad input (a one-line reason on stderr).
PACKAGE_BUILDER_DEBUG=1 shows a fault's traceback instead of its one line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from package_builder_dagster.discovery.config import BuildConfig, find_config_file, load_config
from package_builder_dagster.errors import UsageError


class _Verbatim(argparse.Action):
    """Keeps the value as typed: argparse drops a value of `--` (`--since=--`), which is not a git ref."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        setattr(namespace, self.dest, values if isinstance(values, str) else "--")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="package-builder", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, plan: bool = True) -> None:
        sp.add_argument("--workspace", "-w", help="monorepo root (env PACKAGE_BUILDER_WORKSPACE)")
        sp.add_argument("--config", "-c", help="build-env.json (env PACKAGE_BUILDER_CONFIG)")
        if plan:
            sp.add_argument("--master-plan", help="master plan markdown (env PACKAGE_BUILDER_MASTER_PLAN)")
            sp.add_argument("--suite", help="build only this suite package and what it needs (env PACKAGE_BUILDER_SUITE)")

    g = sub.add_parser("graph", help="print the packages in dependency order")
    common(g)
    g.add_argument("--json", action="store_true", help="machine-readable output")

    b = sub.add_parser("build", help="materialize the package assets (a real Dagster run)")
    common(b)
    b.add_argument("--select", action="append", default=[], metavar="SEL", help="Dagster asset selection; package names allowed (repeatable)")
    b.add_argument("--concurrency", type=int, help="packages built at once (maxConcurrentBuilds)")
    b.add_argument("--stale", action="store_true", help="only packages missing, stale or failed last time, and their dependents")
    b.add_argument("--failed", action="store_true", help="only the packages that failed or were blocked in the latest run")
    b.add_argument("--since", metavar="REF", action=_Verbatim, help="only packages with files changed since git REF, and their dependents")
    b.add_argument("--publish", action="store_true", help="publish each package that passed (publishing.enabled)")
    b.add_argument("--publish-dry-run", action="store_true", help="run the publish commands with --dry-run (implies --publish)")
    b.add_argument("--registry", help="npm registry URL (npmRegistry; env PACKAGE_BUILDER_REGISTRY)")
    b.add_argument("--cache", choices=["local", "remote", "both", "off"],
                   help="artifact stores to use (cache.mode; default both with cache.remote.url, else local)")

    u = sub.add_parser("ui", help="the Dagster UI over this workspace's instance")
    common(u, plan=False)
    u.add_argument("--port", type=int, default=3000)

    r = sub.add_parser("report", help="bottlenecks, failure types, agent effectiveness, waits, parallelism and flaky tests")
    common(r, plan=False)
    which = r.add_mutually_exclusive_group()
    which.add_argument("--run", help="one run (its id); default: the latest run")
    which.add_argument("--date", help="every run of one day (YYYY-MM-DD, UTC)")
    which.add_argument("--since", help="runs from this day on (YYYY-MM-DD)")
    r.add_argument("--until", help="runs up to this day (YYYY-MM-DD), with --since")
    r.add_argument("--json", action="store_true", help="machine-readable output")

    x = sub.add_parser("explain", help="a package's cache key: its inputs and which changed since its last build")
    common(x)
    x.add_argument("package", help="package name (full or short)")
    x.add_argument("--json", action="store_true", help="machine-readable output")

    c = sub.add_parser("cache", help="the local artifact store: stats, prune")
    common(c, plan=False)
    c.add_argument("action", choices=["stats", "prune"])
    c.add_argument("--max-size-mb", type=int, help="prune: evict least recently used artifacts beyond this size")
    c.add_argument("--older-than-days", type=float, help="prune: remove artifacts not used for this many days")

    ip = sub.add_parser("init-prompts", help="write starter fix prompts (existing files are kept)")
    common(ip, plan=False)

    wk = sub.add_parser("worker", help="a celery worker for a distributed build (docs/scale-out.md)")
    wk.add_argument("--config", "-c", required=True, help="build-env.json with dagster.executor and dagster.storage")
    wk.add_argument("--concurrency", type=int, default=1, help="packages at a time on this worker (default 1)")
    wk.add_argument("--checkout", help="this worker's own clone of the repository (replaces workspaceRoot)")
    wk.add_argument("--name", help="the worker's celery name (default pb-<pid>)")

    e = sub.add_parser("example", help="write an example monorepo")
    e.add_argument("path")
    e.add_argument("--toolchain", help="folder whose node_modules holds typescript, vitest and eslint")
    e.add_argument("--kind", choices=["typescript", "trivial"], default="typescript")
    e.add_argument("--packages", type=int, help="generate this many layered packages instead of the 8-package suite")
    e.add_argument("--force", action="store_true", help="write into a folder that is not empty (overwrites, commits all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.filterwarnings("ignore")  # Dagster's beta/preview warnings are not for our users
    try:
        commands = {"graph": cmd_graph, "build": cmd_build, "ui": cmd_ui, "example": cmd_example,
                    "init-prompts": cmd_init_prompts, "report": cmd_report, "explain": cmd_explain, "cache": cmd_cache,
                    "worker": cmd_worker}
        return commands[args.command](args)
    except UsageError as exc:
        print(f"package-builder: {' '.join(str(exc).splitlines())}", file=sys.stderr)  # always one line
        return 2
    except Exception as exc:  # a fault of the machine (files, disk, storage) is one line; a bug keeps its traceback
        from package_builder_dagster.cli.faults import debugging, describe_fault

        fault = describe_fault(exc)
        if fault is None or debugging():
            raise
        print(f"package-builder: {fault.message}", file=sys.stderr)
        return fault.code


def _shown(value: str, limit: int = 80) -> str:
    """A user's value as an error message quotes it: escaped, and cut when very long."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"… ({len(value)} characters)"


def _config(args: argparse.Namespace) -> BuildConfig:
    overrides: dict[tuple[str, ...], Any] = {}
    if getattr(args, "master_plan", None):
        overrides[("masterPlan",)] = str(Path(args.master_plan).resolve())
    if getattr(args, "suite", None):
        overrides[("buildId",)] = args.suite
    if getattr(args, "concurrency", None) is not None:
        overrides[("maxConcurrentBuilds",)] = args.concurrency
    if getattr(args, "publish", False) or getattr(args, "publish_dry_run", False):
        overrides[("publishing", "enabled")] = True
    if getattr(args, "publish_dry_run", False):
        overrides[("publishing", "dryRun")] = True
    if getattr(args, "registry", None):
        overrides[("npmRegistry",)] = args.registry
    if getattr(args, "cache", None):
        overrides[("cache", "mode")] = args.cache
    config = load_config(args.config, overrides, args.workspace)
    config.root  # noqa: B018 - raises the "no workspace" error early
    return config


def _export_env(args: argparse.Namespace, config: BuildConfig) -> None:
    """Hand the resolved inputs to the definitions that Dagster loads (same precedence)."""
    path = find_config_file(args.config, args.workspace or str(config.root))
    if path:
        os.environ["PACKAGE_BUILDER_CONFIG"] = str(path)
    os.environ["PACKAGE_BUILDER_WORKSPACE"] = str(config.root)
    for env, value in (
        ("PACKAGE_BUILDER_MASTER_PLAN", config.masterPlan),
        ("PACKAGE_BUILDER_SUITE", config.buildId),
        ("PACKAGE_BUILDER_CONCURRENCY", config.maxConcurrentBuilds),
        ("PACKAGE_BUILDER_REPORTS_DIR", config.reportsDir),
        ("PACKAGE_BUILDER_REGISTRY", config.npmRegistry),
        ("PACKAGE_BUILDER_PUBLISH", "true" if config.publishing.enabled else None),
        ("PACKAGE_BUILDER_PUBLISH_DRY_RUN", "true" if config.publishing.dryRun else None),
        ("PACKAGE_BUILDER_CACHE", config.cache.mode),
    ):
        if value is not None:
            os.environ[env] = str(value)


# ---- graph ---------------------------------------------------------------------------------

def cmd_graph(args: argparse.Namespace) -> int:
    from package_builder_dagster.orchestration.definitions import discover_for

    graph = discover_for(_config(args))
    if args.json:
        print(json.dumps(graph.to_json(), indent=2))
        return 0
    from package_builder_dagster.cli.output import make_console, make_table

    table = make_table(f"{len(graph)} packages in dependency order ({graph.root})",
                       "#", "package", "version", "category", "layer", "path", "depends on")
    for i, pkg in enumerate(graph, 1):
        table.add_row(str(i), pkg.name, pkg.version, pkg.category or "-", str(pkg.layer), pkg.path, ", ".join(pkg.dependencies))
    console = make_console()
    console.print(table)
    for w in graph.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    return 0


# ---- build ---------------------------------------------------------------------------------

def cmd_build(args: argparse.Namespace) -> int:
    _report_unreported(_config(args))  # first: --stale and --failed read what the reports say
    if args.stale and not (args.failed or args.since or args.select) and _up_to_date(args):
        print("everything is up to date: no package to build")
        return 0
    from rich.markup import escape

    from package_builder_dagster.cli.output import make_console
    from package_builder_dagster.cli.progress import ProgressWatcher
    from package_builder_dagster.discovery.code_versions import changed_packages
    from package_builder_dagster.discovery.package_managers import _which, detect_package_manager
    from package_builder_dagster.orchestration.definitions import build_definitions, discover_for
    from package_builder_dagster.orchestration.instance import BuildLock, get_instance, prepare_home, process_tags, recover_orphaned_runs
    from package_builder_dagster.orchestration.launch import execute_build_run, finished_run, wait_for
    from package_builder_dagster.orchestration.progress_file import progress_path
    from package_builder_dagster.orchestration.run_reports import report_run
    from package_builder_dagster.orchestration.selection import resolve_selection
    from package_builder_dagster.orchestration.staleness import failed_in_latest_run, missing_outputs_of, stale_packages, with_downstream
    from package_builder_dagster.orchestration.translator import PackageTranslator
    from package_builder_dagster.orchestration.unreported import clear_unreported, mark_unreported

    console = make_console()
    config = _config(args)
    graph = discover_for(config)
    _which("node", "every package script runs on node")
    pm = detect_package_manager(graph.root)
    translator = PackageTranslator()
    defs = build_definitions(config, graph, translator)
    key_to_name = {translator.get_asset_key(p): p.name for p in graph}
    lock = BuildLock(prepare_home(config))  # before the storage is opened; held while this function runs
    lock.acquire()
    instance = get_instance(config)
    for w in graph.warnings:
        console.print(f"[yellow]warning:[/] {w}")

    for run_id in recover_orphaned_runs(instance):
        console.print(f"[yellow]run {run_id} was left in progress by a build process that is gone: marked failed[/]")
        report_run(instance, run_id, config, graph, translator)

    if args.select:
        keys = resolve_selection(args.select, defs, graph, translator)
    else:
        keys = set(defs.resolve_asset_graph().get_all_asset_keys())
    if args.stale or args.failed or args.since:
        candidates = {key_to_name[k] for k in keys if k in key_to_name}
        wanted: dict[str, str] = {}
        if args.stale:
            wanted.update(stale_packages(instance, graph, translator, config.reports_dir))
        if args.failed:
            wanted.update({n: "failed or blocked in the latest run" for n in failed_in_latest_run(config.reports_dir)})
        if args.since:
            try:
                changed = changed_packages(graph, args.since)
            except ValueError as exc:
                raise UsageError(f"--since {_shown(args.since)}: {exc}") from None
            wanted.update(with_downstream(graph, {n: f"changed since {args.since}" for n in changed}))
        wanted = {n: why for n, why in wanted.items() if n in candidates}
        if not wanted:
            console.print("everything is up to date: no package to build")
            return 0
        for name in graph.packages:
            if name in wanted:
                console.print(f"  {name}: {wanted[name]}")
        keys = {translator.get_asset_key(graph[n]) for n in wanted}
    if args.select or args.stale or args.failed or args.since:
        chosen = {key_to_name[k] for k in keys if k in key_to_name}
        missing = sorted(
            n for n in graph.upstream(chosen) - chosen
            if instance.get_latest_materialization_event(translator.get_asset_key(graph[n])) is None
        )
        if missing:
            console.print(f"added {len(missing)} upstream package(s) never built successfully: {', '.join(missing)}")
            keys |= {translator.get_asset_key(graph[n]) for n in missing}
        absent = missing_outputs_of(instance, graph, translator, graph.upstream(chosen) - chosen - set(missing))
        if absent:  # a fresh checkout: their outputs come back from the cache (or a rebuild)
            console.print(f"added {len(absent)} upstream package(s) whose outputs are missing: {', '.join(sorted(absent))}")
            keys |= {translator.get_asset_key(graph[n]) for n in absent}
    selected = [n for n in graph.packages if translator.get_asset_key(graph[n]) in keys]
    if not keys:
        console.print("nothing to do: the selection names no package")
        return 0

    from package_builder_dagster.distributed.source_tree import run_tags  # dagster.executor: the commit workers build

    commit_tags = run_tags(config, lambda message: console.print(f"[yellow]warning:[/] {message}"))
    console.print(
        f"[bold]package-builder[/] {graph.root} · {len(selected)} package(s) · {pm.kind} · "
        f"{config.maxConcurrentBuilds} at a time · Dagster home {instance.root_directory}"
    )
    run_id, proc = execute_build_run(instance, config, translator, keys, {**process_tags(), **commit_tags},
                                     config.logs_dir / "run-processes" / f"{os.getpid()}.log", graph)
    mark_unreported(Path(instance.root_directory), run_id, os.getpid(), proc.pid)  # a killed CLI: the next command reports it
    watcher = ProgressWatcher(instance, run_id, selected, console, progress_path(config.logs_dir, run_id))
    watcher.start()
    started = time.monotonic()
    try:
        exit_code = wait_for(proc)
    finally:
        watcher.stop()
    result = finished_run(instance, run_id, exit_code)
    from package_builder_dagster.orchestration.run_events import read_run
    from package_builder_dagster.reporting.reports import run_records

    log = read_run(instance, result.run_id)  # once: the summary, the warnings and the reports all come from it
    for message in log.warnings:
        console.print(f"[yellow]warning:[/] {escape(message)}")
    run_dir, summary = report_run(instance, result.run_id, config, graph, translator, log)
    clear_unreported(Path(instance.root_directory), result.run_id)
    # the packages that ended, and those Dagster skipped after a failure (blocked); not those the run ended before
    states = {n: r for n, r in run_records(log, graph, selected, log.end or "").items() if n in log.records or r.state == "blocked"}
    suites = {p.name for p in graph if p.category == "suite"}
    began = {p["package"] for p in log.payloads if p.get("state") == "started"}
    return _print_summary(console, result, selected, states, time.monotonic() - started, run_dir, summary, suites, began)


def _report_unreported(config: BuildConfig, out: Any = None) -> None:
    """Write the reports of runs a killed `build` left without (a directory listing when there are
    none); say so on `out` (stdout by default)."""
    from package_builder_dagster.orchestration.unreported import unreported_runs

    if not unreported_runs(config.dagster_home):
        return
    from package_builder_dagster.orchestration.definitions import discover_for
    from package_builder_dagster.orchestration.instance import get_instance
    from package_builder_dagster.orchestration.run_reports import report_unreported_runs
    from package_builder_dagster.orchestration.translator import PackageTranslator

    written = report_unreported_runs(get_instance(config), config, discover_for(config), PackageTranslator())
    for run_id, marked in written.items():
        why = "was left in progress by a build process that is gone: marked failed," if marked else \
            "ended without its reports (its build process was killed):"
        print(f"run {run_id} {why} its reports written now", file=out or sys.stdout)


def _up_to_date(args: argparse.Namespace) -> bool:
    """The fast path of `--stale`, before Dagster is imported: True only when the mirror of the
    instance's latest materializations matches every package (code version, outputs on disk)."""
    from package_builder_dagster.discovery.workspace import discover_for
    from package_builder_dagster.orchestration.materialization_mirror import read_mirror, up_to_date

    config = _config(args)
    mirror = read_mirror(config.dagster_home)
    return bool(mirror) and up_to_date(discover_for(config, versions_only=True), mirror)


def _print_summary(console: Any, result: Any, selected: list[str], states: dict[str, Any], elapsed: float,
                   run_dir: Path, summary: dict[str, Any], suites: set[str], began: set[str] = frozenset()) -> int:
    """The end of `build`: counts, publish and cache figures, warnings, each failed and blocked package.
    `began`: the packages whose work started (one without a record was interrupted)."""
    from rich.markup import escape

    from package_builder_dagster.execution.steps import FLAKY_WARNING

    done = [n for n in selected if n in states and states[n].state == "done"]
    failed = [n for n in selected if n in states and states[n].state == "failed"]
    blocked = [n for n in selected if n in states and states[n].state == "blocked"]
    unknown = [n for n in selected if n not in states]
    interrupted = [n for n in unknown if n in began]
    console.print()
    unfinished = (f" · [yellow]{len(interrupted)} interrupted[/]" if interrupted else "") + (
        f" · {len(unknown) - len(interrupted)} not started" if len(unknown) > len(interrupted) else "")
    console.print(
        f"[bold]summary[/]: {len(selected)} selected · [green]{len(done)} succeeded[/] · "
        f"[red]{len(failed)} failed[/] · [red]{len(blocked)} blocked[/]{unfinished} · {elapsed:.1f} s · run {result.run_id}"
    )
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
    for n in [n for n in selected if n in states and states[n].flaky]:  # passed only on a retry (testing.retries)
        console.print(f"  [yellow]flaky[/]   {escape(n)}: {escape(_flaky_line(states[n].flaky))}")
    telling = {n: [w for w in states[n].warnings if not w.startswith(("no plan at ", "serialized ", FLAKY_WARNING))] for n in done}
    warned = [n for n in done if telling[n]]
    for n in warned[:20]:  # e.g. failing tests or checks with testing.failOnError false
        first = telling[n][0]
        more = f" (+{len(telling[n]) - 1} more)" if len(telling[n]) > 1 else ""
        console.print(f"  [yellow]warning[/] {escape(n)}: {escape(str(first))[:200]}{more}")
    if len(warned) > 20:
        console.print(f"  [yellow]… {len(warned) - 20} more package(s) with warnings[/] (in their reports)")
    for n in failed:
        console.print(f"  [bold red]failed[/]  {escape(n)} in {states[n].phase}: {escape(str(states[n].error))}")
    for n in blocked:
        console.print(f"  [red]blocked[/] {escape(n)} by {escape(str(states[n].blocked_by))}")
    _print_unfinished(console, unknown, interrupted)
    stopped = _was_interrupted(result)
    if stopped:
        console.print("  [yellow]interrupted[/]: the run was stopped before it ended; what finished is kept "
                      "(`build --stale` or `build --failed` goes on from there)")
    if not result.success:
        for event in result.all_events:
            if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE") and event.message:
                if stopped or event.step_key not in (None, "suite_verification", "suite_summary") and (failed or blocked):
                    continue  # already listed package by package, or the interrupt said above
                console.print(f"  [red]{escape(event.step_key or 'run')}[/]: {escape(event.message.splitlines()[0])}")
                failure = getattr(event.event_specific_data, "error", None)
                if failure is not None:
                    console.print(f"    {escape(str(failure.message).strip().splitlines()[0])}")
    for report in summary["packageReports"]:
        res = report.get("publish") or {}
        if report["packageName"] in suites and res.get("status") not in (None, "deferred"):
            console.print(f"suite package {escape(report['packageName'])} ({res['status']}): {escape(str(res.get('message')))}")
    console.print(f"reports: {run_dir} (timeline: {run_dir / 'timeline.html'})")
    return 0 if result.success and not failed and not blocked and not unknown else 1


def _flaky_line(flaky: Any) -> str:
    """`test` passed on attempt 2 (first failure: …), for each flaky script of a package."""
    failed: dict[str, list[Any]] = {}
    for attempt in flaky.failedAttempts:
        failed.setdefault(attempt.script, []).append(attempt)
    passed = ", ".join(f"`{script}` passed on attempt {len(failed.get(script, [])) + 1}" for script in flaky.scripts)
    first = flaky.failedAttempts[0].error if flaky.failedAttempts else ""
    return f"{passed} (first failure: {first[:160]})"


def _print_unfinished(console: Any, unknown: list[str], interrupted: list[str]) -> None:
    """The packages without an outcome: those stopped while they ran, and how many never started."""
    from rich.markup import escape

    for n in interrupted:
        console.print(f"  [yellow]interrupted[/] {escape(n)} (stopped while it ran)")
    waiting = [n for n in unknown if n not in interrupted]
    if waiting:
        listed = ", ".join(escape(n) for n in waiting[:10]) + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else "")
        console.print(f"  [red]not started[/]: {listed} (the run ended before they started)")


INTERRUPT_ERRORS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


def _was_interrupted(result: Any) -> bool:
    """Whether the run ended because it was interrupted (Ctrl-C, a killed CLI, terminate in the UI)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "RUN_CANCELED") and (
                getattr(error, "cls_name", None) in INTERRUPT_ERRORS or event.event_type_value == "RUN_CANCELED"):
            return True
    return False


# ---- ui --------------------------------------------------------------------------------------

def cmd_ui(args: argparse.Namespace) -> int:
    from package_builder_dagster.cli.ui_process import port_in_use, run_until_signalled
    from package_builder_dagster.orchestration.definitions import discover_for
    from package_builder_dagster.orchestration.instance import prepare_home

    config = _config(args)
    discover_for(config)  # bad input fails here, with exit 2, not inside the UI
    if port_in_use("127.0.0.1", args.port):  # else a second daemon would run on the instance, with no UI
        raise UsageError(f"port {args.port} on 127.0.0.1 is in use (another `package-builder ui`?); choose one with --port")
    home = prepare_home(config)
    _export_env(args, config)
    workspace = home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: package_builder_dagster.orchestration.definitions\n"
        "      attribute: defs\n      location_name: package-builder\n"  # the location CLI runs record
    )
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or shutil.which("dagster")
    if not dagster:
        raise UsageError("missing tool: dagster (pip install package-builder-dagster)")
    print(f"Dagster UI on http://127.0.0.1:{args.port} (instance {home}); Ctrl-C stops it", file=sys.stderr)
    return run_until_signalled([dagster, "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(args.port)])


# ---- report ----------------------------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from package_builder_dagster.cli.output import make_console, make_table
    from package_builder_dagster.reporting.analysis import analyze
    from package_builder_dagster.reporting.reports import find_runs, read_summaries

    config = _config(args)
    if args.until and not args.since:
        raise UsageError("--until needs --since")
    _report_unreported(config, sys.stderr)  # stdout may be --json
    since, until = (args.date, args.date) if args.date else (args.since, args.until)
    runs = read_summaries(find_runs(config.reports_dir, args.run, since, until))
    if not args.run and not since:
        runs = runs[-1:]  # the latest run
    if not runs:
        what = f"run {args.run}" if args.run else f"dates {since or '…'} to {until or '…'}" if since else "any run"
        raise UsageError(f"no report to read for {what} in {config.reports_dir}")
    result = analyze(runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = make_console()
    runs = make_table(f"{len(result['runs'])} run(s)", "run", "status", "started", "pkgs", "ok", "failed", "blocked",
                      "wall s", "slots")
    for run in result["runs"]:
        use = run["slotUtilization"]
        runs.add_row(run["runId"], str(run["runStatus"]), str(run["startTime"])[:16].replace("T", " "), str(run["totalPackages"]),
                     str(run["successful"]), str(run["failed"]), str(run["blocked"]), f"{run['totalDuration'] / 1000:.1f}",
                     f"{use:.0%}" if use is not None else "-")
    console.print(runs)
    for run in result["runs"]:
        if run["criticalPath"]:
            console.print(f"critical path of {run['runId']}: {' → '.join(run['criticalPath'])}")
    slow = make_table("slowest packages (their own commands' time)", "package", "s", "status")
    for item in result["slowestPackages"]:
        slow.add_row(item["packageName"], f"{item['duration'] / 1000:.1f}", item["status"])
    console.print(slow)
    console.print("failure types: " + (", ".join(f"{t} × {n}" for t, n in result["failureTypes"]) or "none"))
    agents = result["agents"]
    console.print(f"fix attempts: {agents['attempts']} on {agents['packagesAttempted']} package(s), {agents['packagesFixed']} fixed")
    for prompt, stats in agents["byPrompt"].items():
        console.print(f"  {prompt}: {stats['fixed']}/{stats['attempts']} attempts fixed ({stats['successRate']:.0%})")
    waits = result["waits"]
    console.print(f"dependency wait: {waits['totalDependencyWait'] / 1000:.1f} s summed over {waits['waitingPackages']} packages; "
                  f"slot wait: {waits['totalSlotWait'] / 1000:.1f} s summed over {waits['slotWaitingPackages']} packages")
    for w in waits["longest"]:
        console.print(f"  {w['packageName']} waited {w['waitTime'] / 1000:.1f} s for {w['dependency']}")
    flaky = result["flakyTests"]
    covered = len(result["runs"])
    console.print(f"flaky tests (failed, then passed on a retry): {len(flaky) or 'none'}" + (" package(s)" if flaky else ""))
    for item in flaky:
        console.print(f"  {escape(item['packageName'])}: flaky in {item['runs']} of {covered} run(s), "
                      f"{item['failedAttempts']} failed attempt(s); latest: {escape(str(item['lastError'])[:160])}")
    par = result["parallelism"]
    use = par["meanSlotUtilization"]
    console.print(f"parallelism: {par['slots']} slot(s), mean utilization {f'{use:.0%}' if use is not None else 'n/a'}")
    return 0


# ---- explain and cache ------------------------------------------------------------------------

def cmd_explain(args: argparse.Namespace) -> int:
    from package_builder_dagster.discovery.cache_keys import explain_changes
    from package_builder_dagster.orchestration.definitions import discover_for
    from package_builder_dagster.orchestration.instance import get_instance
    from package_builder_dagster.orchestration.staleness import outputs_problem
    from package_builder_dagster.orchestration.translator import PackageTranslator

    config = _config(args)
    graph = discover_for(config)
    matches = [p for p in graph if args.package in (p.name, p.short_name)]
    if len(matches) != 1:
        raise UsageError(f"package {args.package!r} " + ("is ambiguous" if matches else f"not found among {len(graph)} packages"))
    pkg = matches[0]
    event = get_instance(config).get_latest_materialization_event(PackageTranslator().get_asset_key(pkg))
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    recorded = getattr(meta.get("cache_inputs"), "value", None)
    last_key = getattr(meta.get("cache_key"), "value", None)
    result = {
        "package": pkg.name, "cacheKey": pkg.cache_key, "inputs": pkg.cache_inputs,
        "lastBuild": {"cacheKey": last_key, "cacheHit": getattr(meta.get("cache_hit"), "value", None)} if event else None,
        "changed": explain_changes(recorded, pkg.cache_inputs) if isinstance(recorded, dict) else None,
        "outputs": outputs_problem(pkg, meta) if event else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{pkg.name}: cache key {pkg.cache_key}")
    for name, value in pkg.cache_inputs.items():
        print(f"  {name:<28} {value[:32]}")
    if event is None:
        print("never materialized: nothing to compare with")
    elif result["changed"] is None:
        print("its last materialization recorded no cache inputs (built before the cache, or with --cache off)")
    elif not result["changed"]:
        print(f"unchanged since its last materialization (key {last_key})")
    else:
        print(f"changed since its last materialization (key {last_key}):")
        for line in result["changed"]:
            print(f"  {line}")
    if result["outputs"]:
        print(f"outputs: {result['outputs']}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from package_builder_dagster.cache.stores import LocalStore, default_local_dir
    from package_builder_dagster.cli.input_checks import check_prune_limits
    from package_builder_dagster.execution.publishing import display_url

    check_prune_limits(args.max_size_mb, args.older_than_days)
    config = _config(args)
    store = LocalStore(config.cache.local.dir or default_local_dir(), config.cache.local.maxSizeMB)
    if args.action == "prune":
        removed = store.prune(args.max_size_mb, args.older_than_days)
        print(f"removed {removed.get('removed', 0)} artifact(s), {removed.get('bytes', 0) / 1e6:.1f} MB")
    stats = store.stats()
    print(f"local store {stats['directory']}: {stats['entries']} artifact(s), {stats['bytes'] / 1e6:.1f} MB "
          f"of {stats['max_bytes'] / 1e6:.0f} MB")
    remote = config.cache.remote
    if remote.url:
        print(f"remote store {display_url(remote.url)} (team {remote.team or '-'}, token from ${remote.tokenEnv}"
              f"{', read-only' if remote.readOnly else ''})")
    return 0


# ---- init-prompts ----------------------------------------------------------------------------

def cmd_init_prompts(args: argparse.Namespace) -> int:
    from package_builder_dagster.execution.fix_agents import STARTER_PROMPTS, init_prompts

    config = _config(args)
    folder = config.prompts_dir
    written = init_prompts(folder)
    for name in STARTER_PROMPTS:
        path = folder / name
        print(f"{'wrote' if path in written else 'kept '} {path}")
    return 0


# ---- worker --------------------------------------------------------------------------------

def cmd_worker(args: argparse.Namespace) -> int:
    try:
        from package_builder_dagster.distributed.worker import run_worker
    except ImportError as exc:
        raise UsageError(f"`worker` needs the distributed extra ({exc.name} is missing): "
                         "pip install 'package-builder-dagster[distributed]'") from None
    return run_worker(args.config, args.concurrency, args.checkout, args.name)


# ---- example -------------------------------------------------------------------------------

def cmd_example(args: argparse.Namespace) -> int:
    from package_builder_dagster.cli.input_checks import check_example_target
    from package_builder_dagster.examples import example_suite, generate, layered_specs

    check_example_target(Path(args.path).resolve(), args.force)
    specs = layered_specs(args.packages) if args.packages else example_suite()
    root = generate(Path(args.path).resolve(), specs, kind=args.kind,
                    toolchain=Path(args.toolchain).resolve() if args.toolchain else None)
    if shutil.which("git") and not (root / ".git").exists():  # committed, so it can be published
        identity = {"GIT_AUTHOR_NAME": "package-builder", "GIT_AUTHOR_EMAIL": "package-builder@localhost"}
        env = {**os.environ, **identity, "GIT_COMMITTER_NAME": identity["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": identity["GIT_AUTHOR_EMAIL"]}
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "example monorepo"]):
            subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
