"""The Dagster assets: packages (a subsettable multi_asset), suite verification and the suite summary."""


import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from package_builder_dagster.cache.package_cache import PackageCache, make_artifact_cache
from package_builder_dagster.discovery.config import BuildConfig, default_checks
from package_builder_dagster.discovery.graph import WorkspaceGraph
from package_builder_dagster.distributed.provenance import worker_metadata
from package_builder_dagster.errors import PackageBuilderError
from package_builder_dagster.execution.fix_agents import Agents
from package_builder_dagster.execution.output_hazards import OutputHazards
from package_builder_dagster.execution.package_pipeline import PackagePipeline, now_iso
from package_builder_dagster.execution.package_tasks import PackageTasks
from package_builder_dagster.execution.publishing import Publisher, PublishOutcome, display_url
from package_builder_dagster.execution.record import RECORD_KEY, CheckResult, PackageRecord
from package_builder_dagster.execution.scheduler import StateChange, schedule
from package_builder_dagster.execution.suite_publishing import publish_suite_packages
from package_builder_dagster.execution.tool_output import first_error_line
from package_builder_dagster.orchestration.history import op_priorities, remembered_rewriters, run_priorities
from package_builder_dagster.orchestration.progress_file import ProgressWriter, progress_path
from package_builder_dagster.orchestration.resource import PackageBuilderResource
from package_builder_dagster.orchestration.run_events import final_states, progress_payload, state_message
from package_builder_dagster.orchestration.run_reports import report_run
from package_builder_dagster.orchestration.translator import GATES_CHECK, PackageTranslator
from package_builder_dagster.reporting.reports import lint_score, package_report_path

VERIFY_KEY = dg.AssetKey(["suite_verification"])
SUMMARY_KEY = dg.AssetKey(["suite_summary"])


def _op_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "package"


def materialize_metadata(outcome: PackageRecord, pm_kind: str, version: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "duration_ms": outcome.duration_ms,  # its own commands' time
        "span_ms": outcome.span_ms,  # from its first task's start to its end, waits included
        "build_ms": outcome.timings["build"],
        "test_ms": outcome.timings["test"],
        "quality_ms": outcome.timings["quality"],
        "version": version,
        "package_manager": pm_kind,
        "plan_exists": outcome.plan_exists,
        "fix_attempts": len(outcome.fix_attempts),
    }
    if outcome.plan_hash:
        meta["plan_sha256"] = outcome.plan_hash
    if outcome.fix_attempts:
        rows = [f"| {a.count} | {', '.join(a.types)} | `{a.agentPromptUsed}` | {a.fixDuration} | {a.exitCode} | {len(a.filesChanged)} "
                f"| {'yes' if a.fixed else 'no'} |"
                for a in outcome.fix_attempts]
        meta["fixes"] = dg.MetadataValue.md("| # | types | prompt | ms | exit | files | fixed |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    if outcome.coverage:
        meta["coverage_lines_pct"] = float(outcome.coverage.get("lines", 0.0))
    for key in ("lint_errors", "lint_warnings", "typescript_errors"):
        if getattr(outcome, key) is not None:
            meta[key] = int(getattr(outcome, key))
    score = lint_score(outcome.lint_errors, outcome.lint_warnings)
    if score is not None:
        meta["lint_score"] = score
    if outcome.flaky:  # tests that failed, then passed on a retry (testing.retries)
        meta["flaky_test_attempts"] = outcome.flaky.attempts
        meta["flaky_failed_attempts"] = len(outcome.flaky.failedAttempts)
        rows = [f"| `{a.script}` | {a.attempt} | {a.exitCode} | {a.error.replace('|', '/')} |" for a in outcome.flaky.failedAttempts]
        meta["flaky_tests"] = dg.MetadataValue.md("| script | attempt | exit | first error |\n|---|---|---|---|\n" + "\n".join(rows))
    if outcome.publish:
        meta.update(publish_metadata(outcome.publish))
    if outcome.checks:
        meta[GATES_CHECK] = gates_line(list(outcome.checks.values()))
    meta.update(cache_metadata(outcome))
    if outcome.warnings:
        meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in outcome.warnings))
    steps = [f"| {s.phase} | `{s.script}` | {s.status} | {s.duration_ms} |" for s in outcome.steps]
    meta["steps"] = dg.MetadataValue.md("| phase | script | status | ms |\n|---|---|---|---|\n" + "\n".join(steps))
    return meta


MAX_LISTED_OUTPUTS = 5000


def cache_metadata(outcome: PackageRecord) -> dict[str, Any]:
    """The outputs (list and digest) and what the artifact cache did: hit or miss, key, source, time saved."""
    meta: dict[str, Any] = {}
    if outcome.outputs_digest is not None:
        meta["outputs_digest"] = outcome.outputs_digest
        meta["outputs_count"] = outcome.outputs_count
        meta["outputs"] = dg.MetadataValue.json(outcome.outputs[:MAX_LISTED_OUTPUTS])
    info = outcome.cache
    if info is not None:
        meta["cache_key"] = info.key
        meta["cache_inputs"] = dg.MetadataValue.json(info.inputs)
        meta["cache_hit"] = info.hit
        if info.hit:
            meta["restored_from"] = info.source
            meta["restore_ms"] = info.restore_ms
            meta["build_time_saved_ms"] = info.saved_ms
    return meta


def publish_metadata(result: PublishOutcome) -> dict[str, Any]:
    meta: dict[str, Any] = {"publish_status": result.status, "publish_ms": result.duration_ms, "registry": result.registry}
    if result.message:
        meta["publish_message"] = result.message
    for key in ("files", "size", "attempts"):
        if getattr(result, key):
            meta[f"publish_{key}"] = int(getattr(result, key))
    return meta


def make_publisher(config: BuildConfig, graph: WorkspaceGraph, pm: Any, runner: Any, log: Any) -> Publisher | None:
    """A Publisher when publishing is on, after its preflight (clean tree, token); dg.Failure otherwise."""
    if not config.publishing.enabled:
        return None
    publisher = Publisher(config, graph, pm, runner)
    errors, warnings = publisher.preflight()
    for warning in warnings:
        log.warning(warning)
    if errors:
        raise as_failure("publishing cannot start: " + "; ".join(errors))
    mode = "dry run" if config.publishing.dryRun else "publishing"
    log.info(f"{mode} to {display_url(publisher.url)} with access {config.publishing.access}")
    return publisher


def build_package_assets(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator
) -> list[dg.AssetsDefinition]:
    """One subsettable multi_asset for all packages, or one per package (`dagster.grouping`)."""
    if config.dagster.grouping == "all":
        return [_package_multi_asset(config, graph, translator, "packages", list(graph.packages))]
    names: dict[str, int] = {}
    assets = []
    priorities = op_priorities(graph, translator)  # Dagster starts ready steps with a higher priority first
    for pkg in graph:
        op = _op_name(f"package_{pkg.name}")
        names[op] = names.get(op, 0) + 1
        assets.append(_package_multi_asset(config, graph, translator, op if names[op] == 1 else f"{op}_{names[op]}", [pkg.name],
                                           {"dagster/priority": str(priorities.get(pkg.name, 0))}))
    return assets


def _package_multi_asset(
    config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator, name: str, members: list[str],
    op_tags: dict[str, str] | None = None,
) -> dg.AssetsDefinition:
    packages = [graph[n] for n in members]
    key_to_name = {translator.get_asset_key(p): p.name for p in packages}

    @dg.multi_asset(
        name=name,
        specs=[translator.get_asset_spec(p, graph) for p in packages],
        check_specs=[c for p in packages for c in translator.get_check_specs(p)],
        can_subset=True,
        op_tags=op_tags,
        description="Builds, tests and quality-checks the selected workspace packages in dependency order.",
    )
    def _packages(context: dg.AssetExecutionContext, package_builder: PackageBuilderResource) -> Iterator[Any]:
        selected = {key_to_name[k] for k in context.selected_asset_keys if k in key_to_name}
        yield from run_packages(context, config, graph, translator, package_builder, [n for n in graph.packages if n in selected])

    return _packages


def run_packages(
    context: dg.AssetExecutionContext,
    config: BuildConfig,
    graph: WorkspaceGraph,
    translator: PackageTranslator,
    package_builder: PackageBuilderResource,
    order: list[str],
) -> Iterator[Any]:
    """Schedule `order` with dynamic parallelism; yield each result the moment its package finishes."""
    run_id = context.run.run_id
    try:
        pm = package_builder.detect()
    except PackageBuilderError as exc:
        raise as_failure(str(exc)) from None
    runner = package_builder.runner()
    logs_dir = config.logs_dir / run_id
    publisher = make_publisher(config, graph, pm, runner, context.log)
    agents = Agents(config, graph, pm, runner, logs_dir)
    artifacts = make_artifact_cache(config, context.log.warning)
    cache = PackageCache(artifacts, logs_dir, context.log.warning) if artifacts else None
    if artifacts:
        stores = [s.name for s in (artifacts.local, artifacts.remote) if s is not None]
        context.log.info(f"artifact cache: {' + '.join(stores)}")
    if publisher and config.dagster.grouping == "per-package":  # earlier steps of this run ran elsewhere
        names = translator_names(graph, translator)
        for key, meta in materializations_in_run(context.instance, run_id).items():
            name = names.get(key)
            if name and meta.get("publish_status") in ("published", "already-published", "dry-run"):
                publisher.remember(name, graph[name].version)
    plan = StepPlan.make(context, config, graph, translator, order, publisher is not None)

    def start(name: str, on_state: Any) -> PackageTasks:
        pipeline = PackagePipeline(config, pm, runner, logs_dir, on_state, publisher, agents, cache)
        return PackageTasks(pipeline, graph[name], verify_before_build=plan.wait_for_success,
                            marked=plan.hazards.marked(name) if plan.hazards is not None else frozenset(),
                            remembered=plan.remembered.get(name))

    context.log.info(f"building {len(order)} package(s) with {pm.kind} ({pm.reason}), {plan.slots} task(s) at a time, "
                     f"tests after {config.scheduling.testsAfter}, priority: {plan.priorities.basis}")
    follower = RunFollower(ProgressWriter(progress_path(config.logs_dir, run_id)), context.log)
    failed: list[PackageRecord] = []
    completed = False
    try:
        for event in schedule(order, {n: graph[n].dependencies for n in order}, start, plan.slots,
                              tests_after=config.scheduling.testsAfter, wait_for_success=plan.wait_for_success,
                              priority=plan.priorities.of, holds=plan.hazards.hold if plan.hazards else None):
            if isinstance(event, StateChange):
                follower.follow(event)
                continue
            outcome = follower.close(event.outcome, plan.priorities.basis)
            if not outcome.ok:
                failed.append(outcome)
            yield from package_events(context, config, graph, translator, outcome, pm.kind)
        completed = True
        if cache is not None:  # the run (or this step) ends only after every artifact is stored
            cache.wait()
            context.log.info(f"artifact cache: {artifacts.hits_local} local hit(s), {artifacts.hits_remote} remote hit(s), "
                             f"{artifacts.misses} miss(es), {artifacts.puts} stored")
    finally:
        follower.progress.close()
        if not completed:  # interrupted (Ctrl-C, terminate from the UI) or crashed: kill every command
            runner.cancel()
    if failed:
        raise packages_failure(failed)


@dataclass
class StepPlan:
    """How a step schedules its packages: slots, priorities, waits for publishing, output races."""

    slots: int
    priorities: Any
    wait_for_success: bool
    remembered: dict[str, Any]
    hazards: OutputHazards | None

    @classmethod
    def make(cls, context: dg.AssetExecutionContext, config: BuildConfig, graph: WorkspaceGraph,
             translator: PackageTranslator, order: list[str], publishing: bool) -> "StepPlan":
        per_package = config.dagster.grouping == "per-package"
        # Per-package grouping: Dagster runs the steps side by side; inside one, its tasks run in order.
        slots = 1 if per_package else config.maxConcurrentBuilds
        priorities = run_priorities(None if per_package else context.instance, graph, translator, order, context.log.warning)
        if per_package:
            priorities.basis = "dagster/priority op tags (critical path by package)"
        # Publishing: a build waits until its dependencies are published; with testsAfter "all-builds"
        # (tests wait for every build) they are verified before publishing instead.
        wait_for_success = publishing and config.scheduling.testsAfter == "own-build"
        # Output races (a test that rebuilds its package, `tsc -b` builds reaching one referenced project):
        # only the step's own scheduler runs tasks of several packages at once.
        remembered = {} if per_package else remembered_rewriters(context.instance, graph, translator, order, context.log.warning)
        hazards = None if per_package else OutputHazards(
            order, {n: graph[n].dependencies for n in order}, {n: graph[n] for n in order}, config.phases, default_checks(),
            config.testing.enableCoverage, remembered)
        if hazards:
            writers = ", ".join(f"{n}#{t} ({w.source})" for (n, t), w in list(hazards.writers.items())[:10])
            context.log.info(f"output races: tasks that rewrite outputs others read run apart from their readers: {writers or 'none'}"
                             f"{'; tsc -b builds that reach one referenced project run one at a time' if hazards.tsc else ''}")
        return cls(slots, priorities, wait_for_success, remembered, hazards)


class RunFollower:
    """What a step does with state changes: each goes to the progress file and the package's record;
    Dagster's log gets one line per package that works (what the UI shows of a running package besides
    its result): its start, once its first command is on its way. A package restored from the cache
    gets none: its materialization follows at once."""

    def __init__(self, progress: ProgressWriter, log: Any):
        self.progress, self.log = progress, log
        self.marks: dict[str, list[tuple[str, str]]] = {}  # each package's state changes, kept in its record
        self.slot_waits: dict[str, int] = {}
        self.starts: dict[str, StateChange] = {}  # started, not in Dagster's log yet: it may be restored

    def follow(self, change: StateChange) -> None:
        if change.state == "queued":  # every selected package is queued at the start
            return
        self.progress.write({"package": change.package, "state": change.state, "time": change.time, **change.detail})
        self.marks.setdefault(change.package, []).append((change.state, change.time))
        if change.state == "started":
            self.slot_waits[change.package] = int(change.detail.get("slot_wait_ms", 0))
            self.starts[change.package] = change
        elif change.state != "restoring" and change.package in self.starts:
            start = self.starts.pop(change.package)
            self.log.info(state_message(start.package, start.state, start.time, start.detail))

    def close(self, outcome: PackageRecord, priority_basis: str) -> PackageRecord:
        """The package's record, closed with its states and waits; its last progress line written."""
        self.starts.pop(outcome.package, None)
        # The package's typed record is what the reports, the CLI and suite publishing read back.
        outcome.priority_basis = priority_basis
        outcome.states, outcome.slot_wait_ms = self.marks.pop(outcome.package, []), self.slot_waits.pop(outcome.package, 0)
        outcome.close(now_iso())
        self.progress.write(progress_payload(outcome))
        return outcome


def package_events(context: dg.AssetExecutionContext, config: BuildConfig, graph: WorkspaceGraph,
                   translator: PackageTranslator, outcome: PackageRecord, pm_kind: str) -> Iterator[Any]:
    """A finished package's events: its materialization (an observation when it failed or was blocked),
    carrying its record, then its gates' result."""
    pkg = graph[outcome.package]
    key = translator.get_asset_key(pkg)
    record = {RECORD_KEY: dg.MetadataValue.json(outcome.to_json())}
    if outcome.ok:
        path = package_report_path(config.reports_dir, outcome.start_time, context.run.run_id, pkg.name)
        # asset metadata, not the output's: Dagster copies an output's metadata into its STEP_OUTPUT event too
        context.add_asset_metadata({
            **materialize_metadata(outcome, pm_kind, pkg.version), "group": translator.get_group_name(pkg),
            "report": dg.MetadataValue.path(str(path)), **worker_metadata(config), **record}, asset_key=key)
        yield dg.MaterializeResult(asset_key=key)
    else:
        summary = (f"{outcome.status} in {outcome.phase}: {outcome.error}" if outcome.status == "failed"
                   else f"blocked by {outcome.blocked_by}")
        yield dg.AssetObservation(asset_key=key, description=summary[:1000], metadata=record)
    yield from gates_events(key, outcome, dg.AssetCheckKey(key, GATES_CHECK) in context.selected_asset_check_keys)


def packages_failure(failed: list[PackageRecord]) -> dg.Failure:
    """The step's failure when packages failed or were blocked: each listed, the first outputs attached."""
    with_output = [o for o in failed if o.status == "failed" and o.error_detail][:10]
    return as_failure(failure_summary(failed), {
        "failed": [o.package for o in failed if o.status == "failed"],
        "blocked": [o.package for o in failed if o.status == "blocked"],
        **{f"output: {o.package}": dg.MetadataValue.md(f"```\n{o.error_detail}\n```") for o in with_output},
    })


def as_failure(description: str, metadata: dict[str, Any] | None = None) -> dg.Failure:
    """How this tool's errors and failed packages end a Dagster step: a Failure that is never retried
    (a rebuild would fail the same way; Dagster's retries would only repeat the commands)."""
    return dg.Failure(description=description, metadata=metadata or {}, allow_retries=False)


def gate_status(check: CheckResult) -> str:
    """passed, failed, failed (warning only) or not run."""
    if not check.ran:
        return "not run"
    return "passed" if check.passed else "failed (warning only)" if check.warning_only else "failed"


def restored(outcome: PackageRecord) -> bool:
    """Whether every gate result of the package came from the cache (none ran in this run)."""
    return bool(outcome.checks) and all(c.metadata.get("from_cache") for c in outcome.checks.values())


def gates_events(key: dg.AssetKey, outcome: PackageRecord, planned: bool) -> Iterator[Any]:
    """The package's `quality_gates` result. Planned in the run (a run from the UI): its check result,
    always. Not planned (a CLI run plans none, orchestration/launch.py): one evaluation when gates
    ran in this run; none for a package restored from the cache, whose materialization carries the
    gates' recorded results and whose check keeps the evaluation of the build that made its outputs."""
    if not outcome.checks:
        return
    result = gates_result(key, list(outcome.checks.values()))
    if planned:
        yield result
    elif not restored(outcome):
        yield dg.AssetCheckEvaluation(asset_key=key, check_name=GATES_CHECK, passed=result.passed, metadata=result.metadata,
                                      severity=result.severity, description=result.description)


def gates_line(checks: list[CheckResult]) -> str:
    """One line for the asset page: the gates' overall result first (a failed gate at a glance), then each gate."""
    failed = [c for c in checks if c.ran and not c.passed]
    overall = "passed" if not failed else "failed (warning only)" if all(c.warning_only for c in failed) else "failed"
    source = " (recorded when the outputs were built; restored from the cache)" if checks and all(
        c.metadata.get("from_cache") for c in checks) else ""
    return f"{overall}{source}: " + "; ".join(f"{c.name} {gate_status(c)}" for c in checks)


def gates_result(key: dg.AssetKey, checks: list[CheckResult]) -> dg.AssetCheckResult:
    """The package's one asset check: each gate's result as metadata (a line each, and `gates` as JSON),
    failed when a gate failed, with severity ERROR unless every failed gate only warns."""
    failed = [c for c in checks if c.ran and not c.passed]
    errors = [c for c in failed if not c.warning_only]
    summary = "; ".join(f"{c.name} {gate_status(c)}: {c.description}" for c in (failed or checks))[:2000]
    meta: dict[str, Any] = {c.name: dg.MetadataValue.text(f"{gate_status(c)}: {c.description}"[:1000]) for c in checks}
    meta["gates"] = dg.MetadataValue.json({c.name: {
        "passed": c.passed, "ran": c.ran, "warning_only": c.warning_only, "status": gate_status(c), "description": c.description,
        "metadata": {k: v for k, v in c.metadata.items() if k != "output_tail" and isinstance(v, (str, int, float, bool))},
    } for c in checks})
    tails = [f"{c.name}:\n{c.metadata['output_tail']}" for c in failed if c.metadata.get("output_tail")]
    if tails:
        meta["output_tail"] = dg.MetadataValue.md("```\n" + "\n\n".join(tails)[-4000:] + "\n```")
    return dg.AssetCheckResult(asset_key=key, check_name=GATES_CHECK, passed=not failed, description=summary,
                               severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN, metadata=meta)


def failure_summary(failed: list[PackageRecord]) -> str:
    bad = [o for o in failed if o.status == "failed"]
    blocked = [o for o in failed if o.status == "blocked"]
    lines = [f"{len(bad)} package(s) failed, {len(blocked)} blocked"]
    lines += [f"- {o.package} failed in {o.phase}: {o.error}" for o in bad]
    lines += [f"- {o.package} blocked by {o.blocked_by}" for o in blocked]
    return "\n".join(lines)


def build_suite_assets(config: BuildConfig, graph: WorkspaceGraph, translator: PackageTranslator) -> list[dg.AssetsDefinition]:
    """The seed's VERIFY (integration tests of the suite) and COMPLETE (the suite summary)."""
    package_keys = [translator.get_asset_key(p) for p in graph]

    @dg.asset(key=VERIFY_KEY, deps=package_keys, group_name="suite", kinds={"npm"},
              description="VERIFY: the suite's integration tests (`verifyCommand`, else the root `test:integration` script).")
    def suite_verification(context: dg.AssetExecutionContext, package_builder: PackageBuilderResource) -> dg.MaterializeResult:
        root_scripts = _root_scripts(graph)
        if config.verifyCommand:
            argv, label = list(config.verifyCommand), "verifyCommand"
        elif "test:integration" in root_scripts:
            argv, label = package_builder.detect().run_script("test:integration"), "test:integration"
        else:
            context.log.info("no verifyCommand and no root test:integration script: nothing to verify")
            return dg.MaterializeResult(metadata={"status": "not configured"})
        runner = package_builder.runner()
        try:
            result = runner.run(argv, graph.root, config.logs_dir / context.run.run_id / "suite-verification.log")
        finally:
            runner.cancel()
        meta = {"command": " ".join(argv), "duration_ms": result.duration_ms, "exit_code": result.exit_code,
                "log": dg.MetadataValue.path(str(result.log_path))}
        if not result.ok:
            raise as_failure(f"suite verification failed ({label}, exit {result.exit_code}): {first_error_line(result.tail)}",
                             {**meta, "output_tail": dg.MetadataValue.md(f"```\n{result.tail}\n```")})
        return dg.MaterializeResult(metadata={**meta, "status": "passed"})

    @dg.asset(key=SUMMARY_KEY, deps=[VERIFY_KEY], group_name="suite", kinds={"json"},
              description="COMPLETE: publishes the suite package (when publishing is on) and writes this run's reports.")
    def suite_summary_asset(context: dg.AssetExecutionContext, package_builder: PackageBuilderResource) -> dg.MaterializeResult:
        published = publish_suites(context, config, graph, translator, package_builder) if config.publishing.enabled else {}
        run_dir, summary = report_run(context.instance, context.run.run_id, config, graph, translator)
        meta: dict[str, Any] = {
            "total_packages": summary["totalPackages"], "successful": summary["successful"],
            "failed": summary["failed"], "blocked": summary["blocked"],
            "total_duration_ms": summary["totalDuration"], "total_wait_ms": summary["totalWaitTime"],
            "total_fix_attempts": summary["totalFixAttempts"],
            "critical_path": " → ".join(summary["criticalPath"]) or "none",
            "report": dg.MetadataValue.path(str(run_dir / "suite-summary.json")),
            "timeline": dg.MetadataValue.path(str(run_dir / "timeline.html")),
        }
        if summary["slotUtilization"] is not None:
            meta["slot_utilization"] = summary["slotUtilization"]
        for name, result in published.items():
            meta[f"suite publish: {name}"] = f"{result.status}: {result.message}"
        failed = {n: r for n, r in published.items() if r.failed}
        if failed:
            raise as_failure("; ".join(f"suite package {n}: {r.message}" for n, r in failed.items()), meta)
        return dg.MaterializeResult(metadata=meta)

    return [suite_verification, suite_summary_asset]


def materializations_in_run(instance: dg.DagsterInstance, run_id: str) -> dict[dg.AssetKey, dict[str, Any]]:
    """Each asset materialized in run `run_id`, with its metadata values."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100_000).records
    found = {}
    for record in records:
        mat = record.event_log_entry.asset_materialization
        if mat is not None:
            found[mat.asset_key] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return found


def translator_names(graph: WorkspaceGraph, translator: PackageTranslator) -> dict[dg.AssetKey, str]:
    return {translator.get_asset_key(p): p.name for p in graph}


def publish_suites(
    context: dg.AssetExecutionContext, config: BuildConfig, graph: WorkspaceGraph,
    translator: PackageTranslator, package_builder: PackageBuilderResource,
) -> dict[str, PublishOutcome]:
    """The seed's COMPLETE for the suite packages built in this run (see `execution.suite_publishing`)."""
    if not any(p.category == "suite" for p in graph):
        return {}
    names = translator_names(graph, translator)
    built = {names[k] for k in materializations_in_run(context.instance, context.run.run_id) if k in names}
    states = final_states(context.instance, context.run.run_id)
    runner = package_builder.runner()
    try:
        return publish_suite_packages(
            config, graph, Publisher(config, graph, package_builder.detect(), runner), built,
            tests_passed={n: s.tests_passed for n, s in states.items()},
            log_dir=config.logs_dir / context.run.run_id, log=context.log.info,
            on_state=lambda name, state, detail: context.log.info(state_message(name, state, now_iso(), detail)),
        )
    finally:
        runner.cancel()


def _root_scripts(graph: WorkspaceGraph) -> dict[str, str]:
    return (json.loads((graph.root / "package.json").read_text()).get("scripts") or {})
