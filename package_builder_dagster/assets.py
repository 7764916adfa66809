"""The Dagster assets: packages (a subsettable multi_asset), suite verification and the suite summary."""


import json
import re
from datetime import datetime, timezone
from typing import Any, Iterator

import dagster as dg

from .config import BuildConfig
from .events import outcome_payload, state_message
from .graph import WorkspaceGraph
from .pipeline import PackageOutcome, PackagePipeline, now_iso
from .reports import load_run_reports, package_report, suite_summary, write_package_report, write_suite_summary
from .resources import PackageManagerResource
from .scheduler import StateChange, schedule
from .toolchain import ToolMissing, first_error_line
from .translator import PackageTranslator

VERIFY_KEY = dg.AssetKey(["suite_verification"])
SUMMARY_KEY = dg.AssetKey(["suite_summary"])


def _op_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "package"


def materialize_metadata(outcome: PackageOutcome, pm_kind: str, version: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "duration_ms": outcome.duration_ms,
        "build_ms": outcome.timings["build"],
        "test_ms": outcome.timings["test"],
        "quality_ms": outcome.timings["quality"],
        "version": version,
        "package_manager": pm_kind,
        "plan_exists": outcome.plan_exists,
    }
    if outcome.coverage:
        meta["coverage_lines_pct"] = float(outcome.coverage.get("lines", 0.0))
    for key in ("lint_errors", "lint_warnings", "typescript_errors"):
        if getattr(outcome, key) is not None:
            meta[key] = int(getattr(outcome, key))
    if outcome.warnings:
        meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in outcome.warnings))
    steps = [f"| {s.phase} | `{s.script}` | {s.status} | {s.duration_ms} |" for s in outcome.steps]
    meta["steps"] = dg.MetadataValue.md("| phase | script | status | ms |\n|---|---|---|---|\n" + "\n".join(steps))
    return meta


def build_package_assets(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator
) -> list[dg.AssetsDefinition]:
    """One subsettable multi_asset for all packages, or one per package (`dagster.grouping`)."""
    if config.dagster.grouping == "all":
        return [_package_multi_asset(config, graph, translator, "packages", list(graph.packages))]
    names: dict[str, int] = {}
    assets = []
    for pkg in graph:
        op = _op_name(f"package_{pkg.name}")
        names[op] = names.get(op, 0) + 1
        assets.append(_package_multi_asset(config, graph, translator, op if names[op] == 1 else f"{op}_{names[op]}", [pkg.name]))
    return assets


def _package_multi_asset(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator, name: str, members: list[str]
) -> dg.AssetsDefinition:
    packages = [graph[n] for n in members]
    key_to_name = {translator.get_asset_key(p): p.name for p in packages}

    @dg.multi_asset(
        name=name,
        specs=[translator.get_asset_spec(p, graph) for p in packages],
        check_specs=[c for p in packages for c in translator.get_check_specs(p)],
        can_subset=True,
        description="Builds, tests and quality-checks the selected workspace packages in dependency order.",
    )
    def _packages(context: dg.AssetExecutionContext, package_manager: PackageManagerResource) -> Iterator[Any]:
        selected = {key_to_name[k] for k in context.selected_asset_keys if k in key_to_name}
        yield from run_packages(context, config, graph, translator, package_manager, [n for n in graph.packages if n in selected])

    return _packages


def run_packages(
    context: dg.AssetExecutionContext,
    config: BuildConfig,
    graph: WorkspaceGraph,
    translator: PackageTranslator,
    package_manager: PackageManagerResource,
    order: list[str],
) -> Iterator[Any]:
    """Schedule `order` with dynamic parallelism; yield each result the moment its package finishes."""
    run_id, step_key = context.run_id, str(context.op_execution_context.op_handle)
    try:
        pm = package_manager.detect()
    except ToolMissing as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    runner = package_manager.runner()
    logs_dir = config.logs_dir / run_id
    run_start = datetime.now(timezone.utc)
    finished_at: dict[str, datetime] = {}
    check_keys = context.selected_asset_check_keys
    failed: list[PackageOutcome] = []

    def build(name: str, on_state: Any) -> PackageOutcome:
        return PackagePipeline(config, pm, runner, logs_dir, on_state).run(graph[name])

    context.log.info(f"building {len(order)} package(s) with {pm.kind} ({pm.reason}), {config.maxConcurrentBuilds} at a time")
    completed = False
    try:
        for event in schedule(order, {n: graph[n].dependencies for n in order}, build, config.maxConcurrentBuilds):
            if isinstance(event, StateChange):
                context.log.info(state_message(event.package, event.state, event.time, event.detail))
                continue
            outcome = event.outcome
            pkg = graph[outcome.name]
            finished_at[pkg.name] = datetime.now(timezone.utc)
            state = {"success": "done"}.get(outcome.status, outcome.status)
            payload = outcome_payload(outcome)
            waited = [
                {"packageName": d, "waitTime": int((finished_at[d] - run_start).total_seconds() * 1000) if d in finished_at else 0}
                for d in pkg.dependencies
            ]
            report = package_report({"package": pkg.name, "state": state, **payload}, run_id, step_key, pkg.dependencies, waited)
            path = write_package_report(config.reports_dir, run_id, report)
            payload["report"] = str(path)
            context.log.info(state_message(pkg.name, state, outcome.end_time or now_iso(), payload))
            key = translator.get_asset_key(pkg)
            if outcome.ok:
                yield dg.MaterializeResult(asset_key=key, metadata={**materialize_metadata(outcome, pm.kind, pkg.version), "report": dg.MetadataValue.path(str(path))})
            else:
                failed.append(outcome)
            for check in outcome.checks.values():
                if dg.AssetCheckKey(key, check.name) not in check_keys:
                    continue
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=check.name,
                    passed=check.passed,
                    severity=dg.AssetCheckSeverity.WARN if (check.warning_only or not check.ran) else dg.AssetCheckSeverity.ERROR,
                    description=check.description,
                    metadata={k: v for k, v in {**check.metadata, "ran": check.ran}.items() if k != "output_tail"}
                    | ({"output_tail": dg.MetadataValue.md(f"```\n{check.metadata['output_tail']}\n```")} if check.metadata.get("output_tail") else {}),
                )
        completed = True
    finally:
        if not completed:  # interrupted (Ctrl-C, terminate from the UI) or crashed: kill every command
            runner.cancel()
    if failed:
        with_output = [o for o in failed if o.status == "failed" and o.error_detail][:10]
        raise dg.Failure(description=failure_summary(failed), metadata={
            "failed": [o.name for o in failed if o.status == "failed"],
            "blocked": [o.name for o in failed if o.status == "blocked"],
            **{f"output: {o.name}": dg.MetadataValue.md(f"```\n{o.error_detail}\n```") for o in with_output},
        }, allow_retries=False)


def failure_summary(failed: list[PackageOutcome]) -> str:
    bad = [o for o in failed if o.status == "failed"]
    blocked = [o for o in failed if o.status == "blocked"]
    lines = [f"{len(bad)} package(s) failed, {len(blocked)} blocked"]
    lines += [f"- {o.name} failed in {o.phase}: {o.error}" for o in bad]
    lines += [f"- {o.name} blocked by {o.blocked_by}" for o in blocked]
    return "\n".join(lines)


def build_suite_assets(config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator) -> list[dg.AssetsDefinition]:
    """The seed's VERIFY (integration tests of the suite) and COMPLETE (the suite summary)."""
    package_keys = [translator.get_asset_key(p) for p in graph]

    @dg.asset(key=VERIFY_KEY, deps=package_keys, group_name="suite", kinds={"npm"},
              description="VERIFY: the suite's integration tests (`verifyCommand`, else the root `test:integration` script).")
    def suite_verification(context: dg.AssetExecutionContext, package_manager: PackageManagerResource) -> dg.MaterializeResult:
        root_scripts = _root_scripts(graph)
        if config.verifyCommand:
            argv, label = list(config.verifyCommand), "verifyCommand"
        elif "test:integration" in root_scripts:
            argv, label = package_manager.detect().run_script("test:integration"), "test:integration"
        else:
            context.log.info("no verifyCommand and no root test:integration script: nothing to verify")
            return dg.MaterializeResult(metadata={"status": "not configured"})
        runner = package_manager.runner()
        try:
            result = runner.run(argv, graph.root, config.logs_dir / context.run_id / "suite-verification.log")
        finally:
            runner.cancel()
        meta = {"command": " ".join(argv), "duration_ms": result.duration_ms, "exit_code": result.exit_code, "log": dg.MetadataValue.path(str(result.log_path))}
        if not result.ok:
            raise dg.Failure(
                description=f"suite verification failed ({label}, exit {result.exit_code}): {first_error_line(result.tail)}",
                metadata={**meta, "output_tail": dg.MetadataValue.md(f"```\n{result.tail}\n```")}, allow_retries=False,
            )
        return dg.MaterializeResult(metadata={**meta, "status": "passed"})

    @dg.asset(key=SUMMARY_KEY, deps=[VERIFY_KEY], group_name="suite", kinds={"json"},
              description="COMPLETE: the suite summary report of this run.")
    def suite_summary_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        summary = summarize_run(context.instance, context.run_id, config, graph)
        path = write_suite_summary(config.reports_dir, summary)
        return dg.MaterializeResult(metadata={
            "total_packages": summary["totalPackages"], "successful": summary["successful"],
            "failed": summary["failed"], "blocked": summary["blocked"],
            "total_duration_ms": summary["totalDuration"], "total_wait_ms": summary["totalWaitTime"],
            "report": dg.MetadataValue.path(str(path)),
        })

    return [suite_verification, suite_summary_asset]


def _root_scripts(graph: WorkspaceGraph) -> dict[str, str]:
    return (json.loads((graph.root / "package.json").read_text()).get("scripts") or {})


def summarize_run(instance: dg.DagsterInstance, run_id: str, config: BuildConfig, graph: WorkspaceGraph) -> dict[str, Any]:
    """The suite summary of run `run_id`, from the package reports it wrote."""
    run = instance.get_run_by_id(run_id)
    stats = instance.get_run_stats(run_id) if run else None
    started = datetime.fromtimestamp(stats.start_time, timezone.utc).isoformat() if stats and stats.start_time else now_iso()
    ended = now_iso()
    selection = sorted(k.to_user_string() for k in (run.asset_selection or [])) if run else []
    build_id = config.buildId or graph.suite or graph.root.name
    return suite_summary(build_id, run_id, load_run_reports(config.reports_dir, run_id), started, ended, selection)
