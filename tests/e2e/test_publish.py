"""Publishing against a real Verdaccio on 127.0.0.1: order, idempotence, failures, dry run, the suite
package, a wrong token, transient and final registry answers, and the token kept out of everything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git_commit_all, package_reports, tool_path
from registry import FaultyProxy

from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.local_registry import start as start_registry

SPECS = [
    PackageSpec("core-a", "core"),
    PackageSpec("util-b", "utility", ["core-a"]),
    PackageSpec("svc-c", "service", ["util-b"]),
    PackageSpec("val-d", "validator"),
    PackageSpec("the-suite", "suite", ["svc-c", "val-d"]),
]
NAMES = [f"@ex/{s.short}" for s in SPECS]


@pytest.fixture
def registry(tmp_path, toolchain):
    """A fresh Verdaccio 6.8.0 (from the toolchain) on 127.0.0.1 with its own storage and user."""
    server = start_registry(tmp_path / "registry")
    yield server
    server.stop()


def workspace(tmp_path: Path, specs=SPECS, verify: list[str] | None = None, config: dict | None = None, **kwargs) -> Path:
    root = generate(tmp_path / "ws", [PackageSpec(s.short, s.category, list(s.deps), set(s.inject)) for s in specs], kind="trivial", **kwargs)
    data = {"verifyCommand": verify or ["node", "-e", "require('fs').writeFileSync('production/verified.txt', String(Date.now()))"]}
    data.update(config or {})
    (root / "production" / "configs").mkdir(parents=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps(data))
    return git_commit_all(root)  # committed, so publishing.requireCleanWorkingDirectory holds


def publish(cli, root: Path, registry_url: str, token: str, *extra: str, toolchain: Path | None = None):
    env = {"NPM_TOKEN": token}
    if toolchain:
        env["PATH"] = tool_path(toolchain)
    return cli("build", "--workspace", str(root), "--publish", "--registry", registry_url, *extra, env=env)


def publish_status(root: Path) -> dict[str, str | None]:
    return {name: (r.get("publish") or {}).get("status") for name, r in package_reports(root).items()}


def assert_token_nowhere(token: str, root: Path, *outputs: str) -> None:
    """The token is in no file the run wrote (logs, reports, the Dagster instance) and no output."""
    assert all(token not in out for out in outputs)
    hits = subprocess.run(["grep", "-rl", "--binary-files=text", token, str(root)], capture_output=True, text=True).stdout
    assert hits == ""


def published_time(registry, name: str, version: str = "1.0.0") -> str:
    return registry.packument(name)["time"][version]


def test_publishes_in_dependency_order_then_nothing_twice(tmp_path, cli, registry):
    root = workspace(tmp_path)
    first = publish(cli, root, registry.url, registry.token)
    assert first.code == 0, first.output
    for name in NAMES:
        assert registry.versions(name) == ["1.0.0"], name
    # Dependents were published after their dependencies, the suite last (after verification).
    times = {n: published_time(registry, n) for n in NAMES}
    assert times["@ex/core-a"] < times["@ex/util-b"] < times["@ex/svc-c"] < times["@ex/the-suite"]
    verified_ms = int((root / "production" / "verified.txt").read_text())
    suite_ms = int(__import__("datetime").datetime.fromisoformat(times["@ex/the-suite"].replace("Z", "+00:00")).timestamp() * 1000)
    assert suite_ms >= verified_ms
    # Published manifests name real versions of their dependencies.
    assert registry.packument("@ex/util-b")["versions"]["1.0.0"]["dependencies"] == {"@ex/core-a": "^1.0.0"}
    reports = package_reports(root)
    assert publish_status(root) == {n: "published" for n in NAMES}
    assert reports["@ex/core-a"]["buildMetrics"]["publishTime"] > 0
    assert reports["@ex/core-a"]["publish"]["files"] >= 2
    assert reports["@ex/the-suite"]["buildMetrics"]["publishTime"] > 0
    assert "suite package @ex/the-suite (published)" in first.stdout

    second = publish(cli, root, registry.url, registry.token)
    assert second.code == 0, second.output
    assert publish_status(root) == {n: "already-published" for n in NAMES}
    assert {n: published_time(registry, n) for n in NAMES} == times  # nothing was published again
    assert "publish: 5 already-published" in second.stdout
    assert_token_nowhere(registry.token, root, first.output, second.output)


def test_failed_package_and_its_dependents_are_not_published(tmp_path, cli, registry):
    specs = [PackageSpec(s.short, s.category, list(s.deps), {"test-fail"} if s.short == "util-b" else set()) for s in SPECS]
    root = workspace(tmp_path, specs)
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1, res.output
    assert registry.versions("@ex/core-a") == ["1.0.0"]
    assert registry.versions("@ex/val-d") == ["1.0.0"]  # independent of the failure
    for name in ("@ex/util-b", "@ex/svc-c", "@ex/the-suite"):
        assert registry.versions(name) == [], name
    reports = package_reports(root)
    assert reports["@ex/util-b"]["status"] == "failed" and reports["@ex/util-b"]["publish"] is None
    assert reports["@ex/svc-c"]["status"] == "blocked"

    # After the fix, a re-run publishes only what is missing.
    (root / "packages/utilities/util-b/package.json").write_text(
        (root / "packages/utilities/util-b/package.json").read_text().replace("test fail", "test ok"))
    git_commit_all(root, "fix")
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 0, res.output
    assert publish_status(root) == {
        "@ex/core-a": "already-published", "@ex/val-d": "already-published",
        "@ex/util-b": "published", "@ex/svc-c": "published", "@ex/the-suite": "published",
    }


def test_dry_run_publishes_nothing(tmp_path, cli, registry):
    root = workspace(tmp_path)
    (root / "stray.txt").write_text("uncommitted")  # a dry run only warns about the working tree
    res = cli("build", "--workspace", str(root), "--publish-dry-run", "--registry", registry.url, env={"NPM_TOKEN": registry.token})
    assert res.code == 0, res.output
    assert all(registry.versions(n) == [] for n in NAMES)
    reports = package_reports(root)
    assert publish_status(root) == {n: "dry-run" for n in NAMES}
    assert reports["@ex/svc-c"]["publish"]["files"] >= 2 and reports["@ex/svc-c"]["publish"]["size"] > 0


def test_dry_run_in_per_package_steps_counts_earlier_steps(tmp_path, cli, registry):
    specs = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]), PackageSpec("svc-c", "service", ["util-b"])]
    root = workspace(tmp_path, specs, config={"dagster": {"grouping": "per-package"}})
    res = cli("build", "--workspace", str(root), "--publish-dry-run", "--registry", registry.url, env={"NPM_TOKEN": registry.token})
    assert res.code == 0, res.output
    assert publish_status(root) == {"@ex/core-a": "dry-run", "@ex/util-b": "dry-run", "@ex/svc-c": "dry-run"}
    assert registry.versions("@ex/core-a") == []


def test_suite_waits_for_verification(tmp_path, cli, registry):
    root = workspace(tmp_path, verify=["node", "-e", "console.error('integration: 1 failing'); process.exit(1)"])
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1, res.output
    assert "suite verification failed" in res.output
    assert registry.versions("@ex/the-suite") == []
    assert all(registry.versions(n) == ["1.0.0"] for n in NAMES if n != "@ex/the-suite")
    assert publish_status(root)["@ex/the-suite"] == "deferred"


def test_wrong_token_fails_clearly_and_publishes_nothing(tmp_path, cli, registry):
    root = workspace(tmp_path)
    res = publish(cli, root, registry.url, "not-the-token")
    assert res.code == 1
    assert "rejected the npm token" in res.output
    assert all(registry.versions(n) == [] for n in NAMES)
    assert not any(s in ("published", "already-published") for s in publish_status(root).values())


def test_dirty_working_tree_stops_publishing(tmp_path, cli, registry):
    root = workspace(tmp_path)
    (root / "packages/core/core-a/index.js").write_text("// edited, not committed\n")
    (root / "packages/core/core-a/dist").mkdir()
    (root / "packages/core/core-a/dist/extra.js").write_text("// a build output may differ\n")
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1
    assert "uncommitted changes: packages/core/core-a/index.js" in res.output
    assert "dist/extra.js" not in res.output
    assert all(registry.versions(n) == [] for n in NAMES)


def test_transient_answers_get_one_retry_final_ones_none(tmp_path, cli, registry):
    specs = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]),
             PackageSpec("svc-c", "service", ["util-b"]), PackageSpec("val-d", "validator")]
    root = workspace(tmp_path, specs)
    proxy = FaultyProxy(registry.url, faults={
        ("PUT", "@ex/core-a"): [503, 0],  # one 503, then through: published on the retry
        ("PUT", "@ex/util-b"): [503],  # always 503: failed after exactly one retry
        ("PUT", "@ex/val-d"): [403],  # a final answer: no retry
    }).start()
    try:
        res = publish(cli, root, proxy.url, registry.token)
    finally:
        proxy.stop()
    assert res.code == 1, res.output
    assert proxy.count("PUT", "@ex/core-a") == 2 and registry.versions("@ex/core-a") == ["1.0.0"]
    assert proxy.count("PUT", "@ex/util-b") == 2 and registry.versions("@ex/util-b") == []
    assert proxy.count("PUT", "@ex/val-d") == 1 and registry.versions("@ex/val-d") == []
    reports = package_reports(root)
    assert reports["@ex/core-a"]["publish"]["attempts"] == 2
    assert reports["@ex/util-b"]["status"] == "failed" and "after one retry" in reports["@ex/util-b"]["error"]
    assert "503" in reports["@ex/util-b"]["error"]
    assert "403" in reports["@ex/val-d"]["error"]
    assert reports["@ex/svc-c"]["status"] == "blocked"
    assert_token_nowhere(registry.token, root, res.output)


def test_require_tests_holds_back_and_dependents_need_the_registry(tmp_path, cli, registry):
    specs = [PackageSpec("core-a", "core", inject={"test-fail"}), PackageSpec("util-b", "utility", ["core-a"])]
    root = workspace(tmp_path, specs, config={"testing": {"failOnError": False}})
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1, res.output
    reports = package_reports(root)
    assert reports["@ex/core-a"]["status"] == "success"
    assert reports["@ex/core-a"]["publish"]["status"] == "skipped"
    assert "requireTests" in reports["@ex/core-a"]["publish"]["message"]
    assert reports["@ex/util-b"]["status"] == "failed" and reports["@ex/util-b"]["phase"] == "dependencies"
    assert "@ex/core-a@1.0.0" in reports["@ex/util-b"]["error"]
    assert registry.versions("@ex/core-a") == [] and registry.versions("@ex/util-b") == []


@pytest.mark.parametrize("manager, install", [
    ("pnpm", ["pnpm", "install", "--offline"]),
    ("yarn-berry", ["node", ".yarn/releases/yarn-4.cjs", "install"]),
])
def test_pnpm_and_yarn_publish_real_versions_for_workspace_ranges(tmp_path, cli, registry, toolchain, manager, install):
    specs = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"])]
    root = workspace(tmp_path, specs, package_manager=manager, toolchain=toolchain)
    env = {**os.environ, "PATH": tool_path(toolchain), "YARN_ENABLE_TELEMETRY": "0", "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"}
    subprocess.run([shutil.which(install[0], path=env["PATH"]), *install[1:]], cwd=root, env=env, check=True, capture_output=True)
    git_commit_all(root, "lockfile")
    res = publish(cli, root, registry.url, registry.token, toolchain=toolchain)
    assert res.code == 0, res.output
    assert registry.packument("@ex/util-b")["versions"]["1.0.0"]["dependencies"] == {"@ex/core-a": "1.0.0"}
    assert publish_status(root) == {"@ex/core-a": "published", "@ex/util-b": "published"}
    assert_token_nowhere(registry.token, root, res.output)


def test_npm_refuses_workspace_ranges_before_publishing(tmp_path, cli, registry):
    specs = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"])]
    root = workspace(tmp_path, specs)
    manifest = root / "packages/utilities/util-b/package.json"
    manifest.write_text(manifest.read_text().replace('"^1.0.0"', '"workspace:*"'))
    git_commit_all(root, "workspace range")
    res = publish(cli, root, registry.url, registry.token)
    assert res.code == 1
    assert "workspace:" in package_reports(root)["@ex/util-b"]["error"]
    assert registry.versions("@ex/core-a") == ["1.0.0"] and registry.versions("@ex/util-b") == []
