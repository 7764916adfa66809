"""Issue 21 point 1: with no `quality.checks` and no `testing.minCoveragePercent` in the config, the
gates that can fail a package are the repository's own (its `lint` script, its `typecheck` /
`check-types` / `tsc` script, the thresholds its test runner enforces); the built-in `typescript`
and `coverage` checks still run but only warn (severity WARN, a report warning, no fix loop).
`"quality": {"preset": "strict"}` (or either key set) brings back the strict gates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_builder_dagster.discovery.config import BuildConfig, default_checks, load_config
from package_builder_dagster.errors import UsageError
from package_builder_dagster.execution.tool_output import flags_rejected

STRICT = {"quality": {"preset": "strict"}}
SEED_STRICT = {"quality": {"checks": [{"name": n, "builtin": n} for n in ("lint", "typescript", "coverage")]},
               "testing": {"minCoveragePercent": 80}}


# ---- the config: "not set" is not "set to the default value" -------------------------------------

def _config(tmp_path: Path, data: dict | None) -> BuildConfig:
    if data is None:
        return load_config(environ={})
    path = tmp_path / "build-env.json"
    path.write_text(json.dumps(data))
    return load_config(path, environ={})


def test_strict_only_when_the_user_says_so(tmp_path):
    scripts = {"build": "x", "lint": "eslint .", "check-types": "tsc --noEmit"}
    own = _config(tmp_path, None)
    assert not own.strict_quality
    gates = own.checks_for({}, "here", scripts)
    assert [(g.name, g.builtin, g.script, g.parser, g.warnOnly) for g in gates] == [
        ("lint", "lint", None, "generic", False), ("typecheck", None, "check-types", "tsc", False),
        ("typescript", "typescript", None, "generic", True), ("coverage", "coverage", None, "generic", True)]
    assert [g.name for g in own.checks_for({}, "here", {"build": "x"})] == ["lint", "typescript", "coverage"]
    assert own.checks_for({}, "here", {"typecheck": "a", "tsc": "b"})[1].script == "typecheck"
    assert own.testing.min_coverage == 80  # the warning's threshold
    # the value of the default, written in the file, is still the user's choice: strict
    for data in ({"testing": {"minCoveragePercent": 80}}, {"quality": {"checks": [{"name": "lint", "builtin": "lint"}]}},
                 STRICT, SEED_STRICT):
        cfg = _config(tmp_path, data)
        assert cfg.strict_quality, data
        assert not any(g.warnOnly or g.script for g in cfg.checks_for({}, "here", scripts))
    assert _config(tmp_path, STRICT).checks_for({}, "here", scripts) == default_checks()
    assert _config(tmp_path, SEED_STRICT).checks_for({}, "here", scripts) == default_checks()
    assert not _config(tmp_path, {"quality": {"preset": "own"}, "testing": {"minCoveragePercent": 60}}).strict_quality
    # the resolved config travels (another process, a worker): "not set" stays not set
    assert not BuildConfig.model_validate(own.portable()).strict_quality
    assert BuildConfig.model_validate(_config(tmp_path, STRICT).portable()).strict_quality
    with pytest.raises(UsageError, match="preset"):
        _config(tmp_path, {"quality": {"preset": "strict", "checks": [{"name": "lint", "builtin": "lint"}]}})


def test_a_jest_threshold_is_a_failure_the_coverage_flags_can_cause():
    assert flags_rejected('Jest: "global" coverage threshold for lines (80%) not met: 40%')
    assert flags_rejected("ERROR: Coverage for lines (40%) does not meet global threshold (80%)")
    assert flags_rejected("FAIL src/a.test.ts > adds one") is None


# ---- cheap packages: the own typecheck script gates; the built-in checks only warn -------------


# ---- the real toolchain: the "done when" ------------------------------------------------


