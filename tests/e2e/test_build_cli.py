"""`package-builder build` end to end on generated workspaces with cheap real scripts (npm)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from conftest import package_reports, workspace_instance

from package_builder_dagster.examples import PackageSpec, example_suite, generate


def _events(root: Path) -> list[tuple[int, str, str, str]]:
    rows = []
    for line in (root / "build-events.log").read_text().splitlines():
        t, edge, step, name = line.split()
        rows.append((int(t), edge, step, name))
    return rows


def test_clean_build_in_dependency_order(tmp_path, cli):
    specs = example_suite()
    for s in specs:
        s.sleep_ms = 1500 if not s.deps else 300  # the two leaves build at once, even on a loaded machine
    root = generate(tmp_path / "ws", specs, kind="trivial")
    res = cli("build", "--workspace", str(root), "--concurrency", "2")
    assert res.code == 0, res.output
    assert "8 succeeded" in res.stdout and "0 failed" in res.stdout
    for state in ("building", "testing", "checking", "done"):
        assert f" {state}" in res.stdout
    events = _events(root)
    ends = {name: t for t, edge, step, name in events if edge == "end" and step == "build"}
    starts = {name: t for t, edge, step, name in events if edge == "start" and step == "build"}
    assert len(starts) == 8
    for spec in specs:
        for dep in spec.deps:
            assert ends[f"@ex/{dep}"] <= starts[f"@ex/{spec.short}"]
    # never more than two commands (tasks) at once, and really two at once at some point
    timeline = sorted([(t, 1) for t, e, s, n in events if e == "start"] + [(t, -1) for t, e, s, n in events if e == "end"],
                      key=lambda row: (row[0], row[1]))  # at equal times an end frees the slot first
    active = peak = 0
    for _, delta in timeline:
        active += delta
        peak = max(peak, active)
    assert peak == 2
    instance = workspace_instance(root)
    for spec in specs:
        assert instance.get_latest_materialization_event(dg.AssetKey(["ex", spec.short])) is not None
    assert instance.get_latest_materialization_event(dg.AssetKey(["suite_summary"])) is not None
    reports = package_reports(root)
    assert len(reports) == 8 and all(r["status"] == "success" for r in reports.values())
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert summary["totalPackages"] == 8 and summary["successful"] == 8 and summary["failed"] == 0


def test_failure_blocks_dependents_and_spares_independent_packages(tmp_path, cli):
    specs = example_suite()
    next(s for s in specs if s.short == "backoff-strategy").inject.add("build-fail")
    root = generate(tmp_path / "ws", specs, kind="trivial")
    res = cli("build", "--workspace", str(root))
    assert res.code == 1, res.output
    assert "failed  @ex/backoff-strategy in build" in res.stdout
    assert "injected build failure in @ex/backoff-strategy" in res.stdout
    for blocked in ("retry-policy", "http-client", "notifier", "dashboard", "example-suite"):
        assert f"blocked @ex/{blocked} by @ex/backoff-strategy" in res.stdout
    reports = package_reports(root)
    assert reports["@ex/backoff-strategy"]["status"] == "failed"
    assert reports["@ex/notifier"]["status"] == "blocked" and reports["@ex/notifier"]["blockedBy"] == "@ex/backoff-strategy"
    assert reports["@ex/validate-email"]["status"] == "success" and reports["@ex/validate-url"]["status"] == "success"
    started = {n for _, e, s, n in _events(root) if e == "start"}
    assert "@ex/retry-policy" not in started and "@ex/validate-email" in started
    instance = workspace_instance(root)
    assert instance.get_latest_materialization_event(dg.AssetKey(["ex", "validate-url"])) is not None
    assert instance.get_latest_materialization_event(dg.AssetKey(["ex", "backoff-strategy"])) is None
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert (summary["successful"], summary["failed"], summary["blocked"]) == (2, 1, 5)
    # What the UI's "Re-execute from asset failure" would rebuild: exactly the failed and blocked
    # packages (and the suite assets they stopped), computed by Dagster from this run's event log.
    run = instance.get_runs(limit=1)[0]
    snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    keys, _ = instance.run_domain.get_keys_to_reexecute(run.run_id, snapshot)
    assert {k.to_user_string() for k in keys} == {
        "ex/backoff-strategy", "ex/retry-policy", "ex/http-client", "ex/notifier", "ex/dashboard",
        "ex/example-suite", "suite_verification", "suite_summary",
    }


def test_select_upstream_downstream_and_auto_added_upstream(tmp_path, cli):
    root = generate(tmp_path / "ws", example_suite(), kind="trivial")
    res = cli("build", "--workspace", str(root), "--select", "+@ex/http-client")
    assert res.code == 0, res.output
    built = {n for _, e, s, n in _events(root) if e == "start" and s == "build"}
    assert built == {"@ex/validate-url", "@ex/backoff-strategy", "@ex/retry-policy", "@ex/http-client"}
    (root / "build-events.log").unlink()
    res = cli("build", "--workspace", str(root), "--select", "@ex/notifier+")
    assert res.code == 0, res.output
    assert "added 1 upstream package(s) never built successfully: @ex/validate-email" in res.stdout
    built = {n for _, e, s, n in _events(root) if e == "start" and s == "build"}
    assert built == {"@ex/validate-email", "@ex/notifier", "@ex/dashboard", "@ex/example-suite"}


def test_graph_json_without_categories(tmp_path, cli):
    specs = [PackageSpec("a"), PackageSpec("b", deps=["a"]), PackageSpec("c", deps=["b"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    res = cli("graph", "--workspace", str(root), "--json")
    assert res.code == 0, res.output
    data = json.loads(res.stdout)
    assert [(p["name"], p["category"], p["layer"], p["dependencies"]) for p in data["packages"]] == [
        ("@ex/a", None, 0, []), ("@ex/b", None, 1, ["@ex/a"]), ("@ex/c", None, 2, ["@ex/b"]),
    ]
    assert set(data["packages"][0]) == {"name", "version", "path", "category", "layer", "dependencies", "undeclaredImports"}
    assert data["warnings"] == []


def test_bad_input_exits_2_with_one_line(tmp_path, cli, toolchain):
    cyc = generate(tmp_path / "cyc", [PackageSpec("a", deps=["b"]), PackageSpec("b", deps=["a"])], kind="trivial")
    res = cli("build", "--workspace", str(cyc))
    assert res.code == 2 and "dependency cycle: @ex/a -> @ex/b -> @ex/a" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    ok = generate(tmp_path / "ok", [PackageSpec("a")], kind="trivial")
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"workspaceRoot": str(ok), "testing": {"minCoveragePercent": "high"}}))
    res = cli("build", "--config", str(cfg))
    assert res.code == 2 and "field 'testing.minCoveragePercent'" in res.stderr

    res = cli("build", "--workspace", str(tmp_path / "missing"))
    assert res.code == 2 and "workspace not found" in res.stderr

    res = cli("build", "--workspace", str(ok), "--select", "@ex/nope")
    assert res.code == 2 and "no package named @ex/nope" in res.stderr

    pn = generate(tmp_path / "pn", [PackageSpec("a")], kind="trivial", package_manager="pnpm")
    res = cli("build", "--workspace", str(pn), env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert res.code == 2 and "missing tool: pnpm" in res.stderr


def test_suite_verification_failure_stops_complete_but_the_summary_is_written(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"])], kind="trivial")
    manifest = json.loads((root / "package.json").read_text())
    manifest["scripts"]["test:integration"] = "node -e \"console.error('Error: integration broke'); process.exit(3)\""
    (root / "package.json").write_text(json.dumps(manifest))
    res = cli("build", "--workspace", str(root))
    assert res.code == 1, res.output
    assert "2 succeeded" in res.stdout and "suite verification failed (test:integration, exit 3)" in res.stdout
    instance = workspace_instance(root)
    assert instance.get_latest_materialization_event(dg.AssetKey(["ex", "b"])) is not None
    assert instance.get_latest_materialization_event(dg.AssetKey(["suite_summary"])) is None
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert summary["successful"] == 2
