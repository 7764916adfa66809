"""Config resolution, in process: which quality gates a package gets (own checks, strict defaults, the
config's list, the package's own), the rules a check list follows, where the config file is found and
what its relative paths mean, the cache mode and folder, and what travels with a run (never the token)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_builder_dagster.discovery.config import (
    BuildConfig,
    QualityCheck,
    default_cache_dir,
    find_config_file,
    load_config,
    read_json_object,
)
from package_builder_dagster.errors import UsageError

CLEAN_ENV: dict[str, str] = {}  # load_config reads this instead of the process's environment


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "package.json").write_text('{"name": "r", "workspaces": ["packages/*"]}')
    return root


def gates(checks: list[QualityCheck]) -> list[tuple[str, str | None, str | None, bool]]:
    """(name, builtin, script, warnOnly) of each gate."""
    return [(c.name, c.builtin, c.script, c.warnOnly) for c in checks]


def test_with_nothing_chosen_a_package_gets_its_own_lint_and_typecheck_and_the_builtins_only_warn():
    config = BuildConfig()
    assert not config.strict_quality
    assert gates(config.checks_for({}, "p", {"lint": "eslint .", "check-types": "tsc --noEmit", "test": "vitest"})) == [
        ("lint", "lint", None, False), ("typecheck", None, "check-types", False),
        ("typescript", "typescript", None, True), ("coverage", "coverage", None, True)]
    assert [c.script for c in config.checks_for({}, "p", {"tsc": "tsc --noEmit"})][1] == "tsc"  # a script named tsc
    assert [c.name for c in config.checks_for({}, "p", {})] == ["lint", "typescript", "coverage"]  # no type-check script


def test_a_coverage_threshold_makes_the_builtin_gates_strict_unless_the_preset_says_own():
    strict = BuildConfig(testing={"minCoveragePercent": 0})  # set at all, whatever the value
    assert strict.strict_quality and strict.testing.min_coverage == 0
    assert gates(strict.checks_for({}, "p", {"typecheck": "tsc"})) == [
        ("lint", "lint", None, False), ("typescript", "typescript", None, False), ("coverage", "coverage", None, False)]
    own = BuildConfig(testing={"minCoveragePercent": 90}, quality={"preset": "own"})
    assert not own.strict_quality and [c.warnOnly for c in own.checks_for({}, "p", {})] == [False, True, True]
    assert BuildConfig().testing.min_coverage == 80 and BuildConfig(quality={"preset": "strict"}).strict_quality


def test_the_packages_own_checks_win_over_the_configs_and_a_bad_one_names_the_package_and_field():
    config = BuildConfig(quality={"checks": [{"name": "docs", "command": ["node", "docs.js"]}]})
    assert [c.name for c in config.checks_for({}, "p", {})] == ["docs"]
    own = {"quality": {"checks": [{"name": "api", "script": "api-check", "parser": "generic", "warnOnly": True}]}}
    assert gates(config.checks_for(own, "p", {})) == [("api", None, "api-check", True)]
    with pytest.raises(UsageError, match=r"config error in packages/p/package.json: field 'checks\.0\.parser'"):
        config.checks_for({"quality": {"checks": [{"name": "api", "script": "x", "parser": "nope"}]}}, "packages/p/package.json")


@pytest.mark.parametrize("quality, message", [
    ({"checks": [{"name": "x"}]}, "give exactly one of `builtin`, `command` and `script`"),
    ({"checks": [{"name": "x", "script": "a", "command": ["b"]}]}, "give exactly one of"),
    ({"checks": [{"name": "x", "script": "a"}, {"name": "x", "builtin": "lint"}]}, "check names must be unique: x"),
    ({"checks": [], "preset": "own"}, "give `preset` or `checks`, not both"),
    ({"checks": [{"name": "has space", "script": "a"}]}, "String should match pattern"),
])
def test_a_check_list_breaking_a_rule_is_refused_with_the_rule(ws, tmp_path, quality, message):
    path = tmp_path / "build-env.json"
    path.write_text(json.dumps({"quality": quality}))
    with pytest.raises(UsageError, match=rf"config error in {path}: field 'quality.*{message}"):
        load_config(path, workspace=ws, environ=CLEAN_ENV)


def test_the_files_relative_paths_resolve_against_its_folder_and_the_default_file_is_the_workspaces(ws):
    configs = ws / "production" / "configs"
    configs.mkdir(parents=True)
    (configs / "build-env.json").write_text(json.dumps({"reportsDir": "../reports", "cache": {"local": {"dir": "cache"}}}))
    assert find_config_file(None, ws, CLEAN_ENV) == configs / "build-env.json"
    config = load_config(workspace=ws, environ=CLEAN_ENV)
    assert config.configFile == configs / "build-env.json"
    assert config.reports_dir == ws / "production" / "reports" and config.cache.local.dir == configs / "cache"
    assert config.logs_dir == ws / "production" / "logs"
    assert find_config_file(None, ws.parent, CLEAN_ENV) is None  # no file there: defaults


def test_an_explicit_config_file_must_exist_and_the_variable_names_one(ws, tmp_path):
    with pytest.raises(UsageError, match="config file not found: .*missing.json"):
        find_config_file(tmp_path / "missing.json", ws, CLEAN_ENV)
    other = tmp_path / "other.json"
    other.write_text('{"maxConcurrentBuilds": 3}')
    assert load_config(workspace=ws, environ={"PACKAGE_BUILDER_CONFIG": str(other)}).maxConcurrentBuilds == 3
    assert load_config(other, workspace=ws, environ={"PACKAGE_BUILDER_CONCURRENCY": "7"}).maxConcurrentBuilds == 7


@pytest.mark.parametrize("text, message", [
    ("{\n  \"a\": 1,\n}", r"where: not valid JSON \(Expecting property name enclosed in double quotes at line 3\)"),
    ("[1, 2]", "where: the top level must be an object"),
])
def test_a_config_file_that_is_not_a_json_object_is_named(tmp_path, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_json_object(path, "where")


def test_cache_mode_and_folder():
    assert BuildConfig().cache_mode == "local"
    assert BuildConfig(cache={"remote": {"url": "https://cache.example"}}).cache_mode == "both"
    assert BuildConfig(cache={"remote": {"url": "https://cache.example"}, "mode": "off"}).cache_mode == "off"
    assert default_cache_dir({"PACKAGE_BUILDER_CACHE_DIR": "/c"}) == Path("/c")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/package-builder/artifacts")
    assert default_cache_dir({}) == Path.home() / ".cache" / "package-builder" / "artifacts"


def test_what_travels_with_a_run_never_holds_the_token_and_rebuilds_the_same_config(ws):
    config = load_config(workspace=ws, environ={"NPM_TOKEN": "npm_secret123"}, overrides={("npmToken",): "npm_secret123"})
    portable = config.portable()
    assert "npmToken" not in portable and "npm_secret123" not in json.dumps(portable)
    assert config.redacted()["npmToken"] == "***"
    again = BuildConfig.model_validate(portable)
    assert again.workspaceRoot == ws and again.cache.local.dir == config.cache.local.dir and again.npmToken is None
