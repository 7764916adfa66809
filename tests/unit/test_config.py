"""Config: precedence (flag > environment > file > default), and errors that name the field."""

from __future__ import annotations

import json

import pytest

from package_builder_dagster.discovery.config import BuildConfig, load_config
from package_builder_dagster.errors import UsageError
from package_builder_dagster.secret_env import npm_token


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "package.json").write_text('{"name": "r", "workspaces": ["p/*"]}')
    return root


def _write(tmp_path, data) -> str:
    path = tmp_path / "cfg" / "build-env.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data))
    return str(path)


def test_defaults(ws, monkeypatch):
    for var in ("NPM_TOKEN", "PACKAGE_BUILDER_CONFIG", "PACKAGE_BUILDER_CONCURRENCY", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    cfg = load_config(workspace=ws)
    assert cfg.maxConcurrentBuilds == 4 and cfg.phases == {"build": ["build"], "test": ["test"]}
    assert cfg.reports_dir == ws / "production" / "reports"
    assert cfg.dagster_home == ws / "production" / ".dagster"
    assert cfg.publishing.enabled is False and cfg.publishing.access == "restricted"


def test_precedence_flag_env_file(ws, tmp_path, monkeypatch):
    path = _write(tmp_path, {"workspaceRoot": "../ws", "maxConcurrentBuilds": 2, "reportsDir": "out"})
    monkeypatch.delenv("PACKAGE_BUILDER_CONCURRENCY", raising=False)
    cfg = load_config(path)
    assert cfg.maxConcurrentBuilds == 2 and cfg.root == ws  # relative to the config file
    assert cfg.reports_dir == tmp_path / "cfg" / "out"
    monkeypatch.setenv("PACKAGE_BUILDER_CONCURRENCY", "3")
    assert load_config(path).maxConcurrentBuilds == 3
    assert load_config(path, {("maxConcurrentBuilds",): 5}).maxConcurrentBuilds == 5
    monkeypatch.setenv("PACKAGE_BUILDER_CONFIG", path)
    assert load_config().root == ws


def test_dagster_home_precedence(ws, tmp_path, monkeypatch):
    path = _write(tmp_path, {"workspaceRoot": str(ws), "dagster": {"home": "dh"}})
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert load_config(path).dagster_home == tmp_path / "cfg" / "dh"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "env-home"))
    assert load_config(path).dagster_home == tmp_path / "env-home"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"maxConcurrentBuilds": "many"}, "field 'maxConcurrentBuilds'"),
        ({"testing": {"minCoveragePercent": 120}}, "field 'testing.minCoveragePercent'"),
        ({"publishing": {"dryrun": True}}, "unknown key 'publishing.dryrun'"),
        ({"temporal": {}}, "unknown key 'temporal'"),
        ({"dagster": {"grouping": "some"}}, "field 'dagster.grouping'"),
        ({"layerViolations": "ignore"}, "field 'layerViolations'"),
    ],
)
def test_bad_config_names_the_field(ws, tmp_path, data, message):
    path = _write(tmp_path, {"workspaceRoot": str(ws), **data})
    with pytest.raises(UsageError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_token_from_env_wins_and_never_prints(ws, tmp_path, monkeypatch):
    path = _write(tmp_path, {"workspaceRoot": str(ws), "npmToken": "npm_FILE_SECRET"})
    monkeypatch.setenv("NPM_TOKEN", "npm_ENV_SECRET")
    cfg = load_config(path)
    assert npm_token(cfg) == "npm_ENV_SECRET"  # read where the command runs, never put in the config
    monkeypatch.delenv("NPM_TOKEN")
    assert npm_token(cfg) == "npm_FILE_SECRET"
    portable = BuildConfig.model_validate(cfg.portable())  # what travels with a run: no secret in it
    assert portable.npmToken is None and npm_token(portable) == "npm_FILE_SECRET"  # read from its file
    for text in (repr(cfg), str(cfg), json.dumps(cfg.redacted()), json.dumps(cfg.portable())):
        assert "SECRET" not in text


def test_missing_workspace(tmp_path):
    with pytest.raises(UsageError, match="workspace not found"):
        load_config(workspace=tmp_path / "nope")
