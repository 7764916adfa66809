"""No race the tool adds (issue 21 point 2): a task that rewrites a package's outputs after its build
never runs while a dependent's task reads them, and `tsc -b` builds that reach one referenced
project never run at the same time."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import package_reports

from package_builder_dagster.examples import PackageSpec, generate

# A dependency whose test removes its dist/, sleeps and builds it again (`npm run build`, as in
# `"test": "npm run build && vitest run"`); dependents whose build and test read ../base/dist.
RACE_JS = """\
const fs = require("fs");
const path = require("path");
const [mode, arg, ...deps] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Number(ms)));
(async () => {
  if (mode === "write") {
    fs.mkdirSync("dist", { recursive: true });
    fs.writeFileSync(path.join("dist", "index.js"), "module.exports = 1;\\n");
  } else if (mode === "clean") {
    fs.rmSync("dist", { recursive: true, force: true });
  } else if (mode === "sleep") {
    await sleep(arg);
  } else if (mode === "read" || mode === "check") {  // a dependent's build (read) or test (check): reads its dependencies' dist a moment later
    await sleep(arg);
    for (const dep of deps) {
      const file = path.join(dep, "dist", "index.js");
      if (!fs.existsSync(file)) {
        console.error(`error: ${file} is missing: its package's dist/ was removed under this build`);
        process.exit(1);
      }
    }
    if (mode === "read") {
      fs.mkdirSync("dist", { recursive: true });
      fs.writeFileSync(path.join("dist", "index.js"), "module.exports = 2;\\n");
    }
  }
})();
"""
STEP = "node ../../../scripts/race.js"
DEPENDENTS = ("d1", "d2", "d3", "d4")


def race_workspace(root: Path, rebuild_ms: int = 1500) -> Path:
    specs = [PackageSpec("base", "core")] + [PackageSpec(d, "utility", ["base"]) for d in DEPENDENTS]
    generate(root, specs, kind="trivial")
    (root / "scripts" / "race.js").write_text(RACE_JS)
    scripts = {
        "base": {"build": f"{STEP} write",
                 "test": f"{STEP} clean && {STEP} sleep {rebuild_ms} && npm run build"},
        **{d: {"build": f"{STEP} read 300 ../../core/base", "test": f"{STEP} check 100 ../../core/base"} for d in DEPENDENTS},
    }
    for short, wanted in scripts.items():
        manifest_path = next(root.glob(f"packages/*/{short}/package.json"))
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"] = wanted
        manifest_path.write_text(json.dumps(manifest, indent=2))
    return root


def _summary(root: Path) -> dict:
    return json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())


def test_a_dependencys_test_that_rebuilds_never_races_its_dependents_5_of_5(tmp_path, cli):
    """At --concurrency 4 every package succeeds, in 5 of 5 runs (fresh workspaces: no history, no cache)."""
    def run(i: int):
        root = race_workspace(tmp_path / f"ws{i}")
        res = cli("build", "--workspace", str(root), "--concurrency", "4")
        return res, {n: r["status"] for n, r in package_reports(root).items()}

    with ThreadPoolExecutor(2) as pool:  # two runs at a time (each mostly waits for Dagster and npm)
        results = list(pool.map(run, range(5)))
    for res, statuses in results:
        assert res.code == 0, res.output
        assert set(statuses.values()) == {"success"} and len(statuses) == 5, statuses
    assert len(results) == 5
    first = tmp_path / "ws0"  # the report says when and why the order changed
    summary = _summary(first)
    entry = next(e for e in summary["serialized"] if e["task"] == "@ex/base#test")
    assert "runs the build" in entry["reason"] and "npm run build" in entry["reason"]
    assert set(entry["heldBack"]) <= {f"@ex/{d}#build" for d in DEPENDENTS} and entry["heldBack"]
    base = package_reports(first)["@ex/base"]
    assert base["serialized"] == [entry] and base["rewroteOutputs"] == ["test"]


# ---- in process: the scheduler with fake tasks -------------------------------------------------------
