"""Plans and the fix loop with real agent programs (tests/agents/*.py) that really edit files."""

from __future__ import annotations

from conftest import REPO

from package_builder_dagster.execution.fix_agents import select_prompt

AGENTS = REPO / "tests" / "agents"


# ---- prompts ------------------------------------------------------------------------------------

def test_prompt_selection_specific_then_generic_from_template(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    prompts = tmp_path / "prompts"
    generic = select_prompt(prompts, ["typescript", "lint"])
    assert generic == prompts / "generic-developer.md"
    assert "Change files inside the package folder only" in generic.read_text()  # the shipped template

    (prompts / "lint-typescript.md").write_text("fix lint and types")
    assert select_prompt(prompts, ["typescript", "lint"]) == prompts / "lint-typescript.md"  # sorted, joined by '-'
    assert select_prompt(prompts, ["test"]) == generic


def test_generic_prompt_comes_from_the_users_agent_when_present(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".claude" / "agents").mkdir(parents=True)
    (home / ".claude" / "agents" / "package-development-agent.md").write_text("my own agent prompt\n")
    monkeypatch.setenv("HOME", str(home))
    assert select_prompt(tmp_path / "p", ["lint"]).read_text() == "my own agent prompt\n"


# ---- the fix loop on real TypeScript packages ---------------------------------------------------


# ---- the fix loop's limits, on cheap packages ----------------------------------------------------


# ---- plans --------------------------------------------------------------------------------------
