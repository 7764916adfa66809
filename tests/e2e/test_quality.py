"""Configurable quality gates: parsers on output captured from the real tools, a team's own script,
per-package overrides, failOnError, and each check as its own Dagster asset check."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import gate_results, package_reports, workspace_instance

from package_builder_dagster.examples import PackageSpec, generate

TEAM_SCRIPT = """\
// A team's own gate, printing the generic format: TYPE: file:line: message
const fs = require("fs");
const src = fs.readFileSync("src/index.ts", "utf8");
let bad = 0;
src.split("\\n").forEach((line, i) => {
  if (line.includes("console.log")) { console.log(`lint: src/index.ts:${i + 1}: no console.log in library code`); bad++; }
});
if (!fs.existsSync("README.md")) { console.log("docs: README.md:1: every package needs a README"); bad++; }
process.exit(bad ? 1 : 0);
"""


def team_workspace(tmp_path: Path, config: dict, override: dict | None = None) -> Path:
    specs = [PackageSpec("clean", "core"), PackageSpec("noisy", "core"), PackageSpec("special", "utility")]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    (root / "scripts/validate.js").write_text(TEAM_SCRIPT)
    for folder in ("core/clean", "core/noisy", "utilities/special"):
        (root / "packages" / folder / "src").mkdir(parents=True)
    (root / "packages/core/clean/src/index.ts").write_text("export const a = 1;\n")
    (root / "packages/core/clean/README.md").write_text("# clean\n")
    (root / "packages/core/noisy/src/index.ts").write_text("export const a = 1;\nconsole.log(a);\n")
    (root / "packages/utilities/special/src/index.ts").write_text("console.log('special');\n")
    if override is not None:
        manifest = root / "packages/utilities/special/package.json"
        data = json.loads(manifest.read_text())
        data["packageBuilder"] = {"quality": {"checks": override}}
        manifest.write_text(json.dumps(data))
    (root / "production/configs").mkdir(parents=True)
    (root / "production/configs/build-env.json").write_text(json.dumps(config))
    return root


REQUIREMENTS = {"name": "requirements", "command": ["node", "../../../scripts/validate.js"], "parser": "generic", "timeoutSeconds": 60}


def test_team_script_in_the_generic_format_with_a_per_package_override(tmp_path, cli):
    override = [{"name": "smoke", "command": ["node", "-e", "process.exit(0)"], "parser": "none"}]
    root = team_workspace(tmp_path, {"quality": {"checks": [REQUIREMENTS]}}, override)
    res = cli("build", "--workspace", str(root))
    assert res.code == 1
    reports = package_reports(root)
    assert reports["@ex/clean"]["status"] == "success"
    noisy = reports["@ex/noisy"]
    assert noisy["status"] == "failed" and noisy["phase"] == "quality"
    assert {(f["type"], f["file"], f["line"]) for f in noisy["failures"]} == {("lint", "src/index.ts", 2), ("docs", "README.md", 1)}
    assert reports["@ex/special"]["status"] == "success"  # its own list replaces the default: only `smoke`

    instance = workspace_instance(root)
    import dagster as dg

    gates = gate_results(instance)
    noisy_gate = gates[("noisy", "requirements")]
    assert noisy_gate.passed is False
    assert noisy_gate.metadata["failures_lint"] == 1 and noisy_gate.metadata["failures_docs"] == 1
    assert "no console.log" in noisy_gate.metadata["first_failures"]
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["ex", "noisy"]), "quality_gates")])
    evaluation = next(iter(record.values())).event.dagster_event.event_specific_data
    assert evaluation.passed is False and "requirements failed" in evaluation.description  # visible at a glance
    assert ("special", "smoke") in gates and ("special", "requirements") not in gates
    assert ("clean", "lint") not in gates  # the default list was replaced by the config's


def test_fail_on_error_false_turns_failures_into_warnings(tmp_path, cli):
    root = team_workspace(tmp_path, {"quality": {"checks": [REQUIREMENTS]}, "testing": {"failOnError": False}})
    res = cli("build", "--workspace", str(root))
    assert res.code == 0, res.output
    noisy = package_reports(root)["@ex/noisy"]
    assert noisy["status"] == "success" and noisy["quality"]["passed"] is True
    assert any("requirements" in w for w in noisy["warnings"])


def test_garbage_script_gives_one_unknown_failure_in_a_real_run(tmp_path, cli):
    garbage = {"name": "garbage", "command": ["node", "-e", "console.log('@@@ ~~~'); process.exit(1)"], "parser": "generic"}
    root = team_workspace(tmp_path, {"quality": {"checks": [garbage]}})
    assert cli("build", "--workspace", str(root)).code == 1
    [failure] = package_reports(root)["@ex/clean"]["failures"]
    assert failure["type"] == "unknown" and "@@@ ~~~" in failure["message"]


def test_a_bad_check_in_package_json_names_the_package_and_field(tmp_path, cli):
    root = team_workspace(tmp_path, {}, [{"name": "x", "parser": "generic"}])
    res = cli("graph", "--workspace", str(root))
    assert res.code == 2
    assert "packages/utilities/special/package.json" in res.stderr and "checks.0" in res.stderr
