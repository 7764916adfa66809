"""Plans and the fix loop with real agent programs (tests/agents/*.py) that really edit files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git_commit_all, package_reports
from unit.test_agents import AGENTS

from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.execution.fix_agents import init_prompts


def agent(name: str, *args: str) -> list[str]:
    return [sys.executable, str(AGENTS / name), *args]


def write_config(root: Path, **config) -> None:
    (root / "production" / "configs").mkdir(parents=True, exist_ok=True)
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps(config))


# ---- prompts ------------------------------------------------------------------------------------


def test_init_prompts_keeps_existing_files(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("a", "core")], kind="trivial")
    prompts = root / ".claude" / "agents" / "fix-prompts"
    prompts.mkdir(parents=True)
    (prompts / "lint.md").write_text("ours\n")
    res = cli("init-prompts", "--workspace", str(root))
    assert res.code == 0, res.output
    assert sorted(p.name for p in prompts.iterdir()) == ["generic-developer.md", "lint-test.md", "lint.md", "test.md", "typescript.md"]
    assert (prompts / "lint.md").read_text() == "ours\n"
    assert "kept  " + str(prompts / "lint.md") in res.stdout
    assert init_prompts(prompts) == []  # a second time writes nothing


# ---- the fix loop on real TypeScript packages ---------------------------------------------------

@pytest.mark.slow
def test_builtin_eslint_fix_repairs_lint_without_the_agent(tmp_path, cli, toolchain):
    root = generate(tmp_path / "ws", [PackageSpec("tidy", "core", inject={"lint-fixable"})], toolchain=toolchain)
    calls = tmp_path / "calls.log"
    write_config(root, testing={"enableCoverage": False}, agents={"fix": {"command": agent("do_nothing.py", "{prompt_file}")}})
    res = cli("build", "--workspace", str(root), env={"AGENT_CALLS": str(calls)})
    assert res.code == 0, res.output
    attempts = package_reports(root)["@ex/tidy"]["fixAttempts"]
    assert [(a["count"], a["agentPromptUsed"], a["fixed"]) for a in attempts] == [(1, "builtin:eslint-fix", True)]
    assert attempts[0]["types"] == ["lint"] and attempts[0]["filesChanged"] == ["packages/core/tidy/src/index.ts"]
    assert "!!n" not in (root / "packages/core/tidy/src/index.ts").read_text()
    assert not calls.exists()  # the agent was never called


@pytest.mark.slow
def test_agent_fixes_a_type_error_then_dependents_build_and_the_fix_is_committed_and_published(tmp_path, cli, toolchain):
    from package_builder_dagster.local_registry import start

    specs = [PackageSpec("core-a", "core", inject={"type-error"}), PackageSpec("util-b", "utility", ["core-a"]), PackageSpec("val-c", "validator")]
    root = generate(tmp_path / "ws", specs, toolchain=toolchain)
    write_config(root, testing={"minCoveragePercent": 50},
                 agents={"fix": {"command": agent("fix_code.py", "{prompt_file}", "{package_dir}")}})
    plan = root / "plans/packages/core/core-a.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("# core-a\nAdds one.\n")
    assert cli("init-prompts", "--workspace", str(root)).code == 0
    git_commit_all(root)
    registry = start(tmp_path / "registry")
    try:
        res = cli("build", "--workspace", str(root), "--publish", "--registry", registry.url, env={"NPM_TOKEN": registry.token})
        assert res.code == 0, res.output
        published = registry.versions("@ex/core-a")
    finally:
        registry.stop()
    reports = package_reports(root)
    attempts = reports["@ex/core-a"]["fixAttempts"]
    assert len(attempts) == 1
    assert attempts[0]["count"] == 1 and attempts[0]["fixed"] is True and attempts[0]["exitCode"] == 0
    assert attempts[0]["types"] == ["typescript"]
    assert attempts[0]["agentPromptUsed"] == ".claude/agents/fix-prompts/typescript.md"
    assert attempts[0]["filesChanged"] == ["packages/core/core-a/src/index.ts"]
    assert attempts[0]["fixDuration"] > 0
    prompt = Path(attempts[0]["log"]).with_name("fix-1-prompt.md").read_text()
    assert "# TypeScript fixer" in prompt and f"Package folder: {root / 'packages/core/core-a'}" in prompt
    assert f"Plan: {plan}" in prompt and "src/index.ts:" in prompt and "TS2322" in prompt
    assert reports["@ex/core-a"]["status"] == "success" and reports["@ex/util-b"]["status"] == "success"
    assert published == ["1.0.0"]
    log = subprocess.run(["git", "log", "--format=%s", "-n", "1", "--", "packages/core/core-a"], cwd=root, capture_output=True, text=True).stdout
    assert log.strip() == "fix(@ex/core-a): typescript (package-builder fix attempt 1)"
    assert reports["@ex/core-a"]["fixCommit"]


# ---- the fix loop's limits, on cheap packages ----------------------------------------------------

def test_unfixable_package_fails_after_three_attempts_independent_ones_succeed(tmp_path, cli):
    specs = [PackageSpec("broken", "core", inject={"build-fail"}), PackageSpec("above", "utility", ["broken"]), PackageSpec("fine", "validator")]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    calls = tmp_path / "calls.log"
    write_config(root, agents={"fix": {"command": agent("do_nothing.py", "{prompt_file}")}})
    res = cli("build", "--workspace", str(root), env={"AGENT_CALLS": str(calls)})
    assert res.code == 1
    reports = package_reports(root)
    broken = reports["@ex/broken"]
    assert broken["status"] == "failed"
    assert broken["error"].startswith("Quality checks failed after 3 fix attempts")
    assert [a["count"] for a in broken["fixAttempts"]] == [1, 2, 3]
    assert all(a["agentPromptUsed"] == ".claude/agents/fix-prompts/generic-developer.md" and not a["fixed"] for a in broken["fixAttempts"])
    assert broken["failures"][0]["type"] == "build"
    assert len(calls.read_text().splitlines()) == 3
    assert reports["@ex/above"]["status"] == "blocked" and reports["@ex/fine"]["status"] == "success"
    assert (root / ".claude/agents/fix-prompts/generic-developer.md").is_file()  # created from the template


def test_edits_outside_the_package_are_reverted_and_reported(tmp_path, cli):
    # `other` builds only after `broken`: a package building while the agent writes its files could read
    # them half-written, fail, and get the same (misbehaving) agent for its own fix.
    specs = [PackageSpec("broken", "core", inject={"build-fail"}), PackageSpec("other", "utility", ["broken"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    other = root / "packages/utilities/other/package.json"
    before = other.read_text()
    write_config(root, agents={"fix": {"command": agent("edit_outside.py", str(root), str(other)), "maxAttempts": 1}})
    git_commit_all(root)  # what git ignores (build outputs, logs) is never taken for the agent's edits
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    attempt = package_reports(root)["@ex/broken"]["fixAttempts"][0]
    assert sorted(attempt["outsideChanges"]) == ["AGENT_WAS_HERE.txt", "packages/utilities/other/package.json"]
    assert attempt["reverted"] is True and attempt["filesChanged"] == []
    assert other.read_text() == before and not (root / "AGENT_WAS_HERE.txt").exists()
    assert any("outside packages/core/broken (reverted)" in w for w in package_reports(root)["@ex/broken"]["warnings"])


def test_own_edits_are_checked_even_when_the_attempt_also_edited_outside(tmp_path, cli):
    # `other` builds only after `broken`: a package building while the agent writes its files could read
    # them half-written, fail, and get the same (misbehaving) agent for its own fix.
    specs = [PackageSpec("broken", "core", inject={"build-fail"}), PackageSpec("other", "utility", ["broken"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    other = root / "packages/utilities/other/package.json"
    before = other.read_text()
    command = agent("edit_outside.py", str(root), str(other), "--also-fix", "{package_dir}")
    write_config(root, agents={"fix": {"command": command, "maxAttempts": 1}})
    git_commit_all(root)
    res = cli("build", "--workspace", str(root))
    assert res.code == 0, res.output  # the package's own fix was checked, and it works
    [attempt] = package_reports(root)["@ex/broken"]["fixAttempts"]
    assert attempt["filesChanged"] == ["packages/core/broken/package.json"] and attempt["reverted"] is True
    assert attempt["fixed"] is False  # the attempt still counts as failed: it edited outside its package
    assert other.read_text() == before


def test_hanging_agent_is_killed_at_its_timeout(tmp_path, cli):
    root = generate(tmp_path / "ws", [PackageSpec("broken", "core", inject={"build-fail"})], kind="trivial")
    pids = tmp_path / "pids.txt"
    write_config(root, agents={"fix": {"command": agent("hang.py", str(pids)), "maxAttempts": 1, "timeoutSeconds": 3}})
    res = cli("build", "--workspace", str(root), timeout=120)
    assert res.code == 1
    attempt = package_reports(root)["@ex/broken"]["fixAttempts"][0]
    assert attempt["timedOut"] is True and attempt["fixDuration"] < 30_000
    child = int(pids.read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


# ---- plans --------------------------------------------------------------------------------------

def test_plan_agent_writes_missing_plans_and_a_silent_one_fails_the_package(tmp_path, cli):
    specs = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    write_config(root, agents={"plan": {"command": agent("write_plan.py", "{plan_file}", "{package_name}", "{category}", "{dependencies}")}})
    res = cli("build", "--workspace", str(root))
    assert res.code == 0, res.output
    plan = root / "plans/packages/utility/util-b.md"
    assert plan.read_text().startswith("# Plan: @ex/util-b") and "Depends on: @ex/core-a" in plan.read_text()

    # Without a plan agent a missing plan is a warning; with one that writes nothing, the package fails.
    plan.unlink()
    write_config(root)
    assert cli("build", "--workspace", str(root)).code == 0
    assert "no plan at plans/packages/utility/util-b.md" in package_reports(root)["@ex/util-b"]["warnings"]
    write_config(root, agents={"plan": {"command": agent("do_nothing.py")}})
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    report = package_reports(root)["@ex/util-b"]
    assert report["phase"] == "planning" and "without writing plans/packages/utility/util-b.md" in report["error"]
