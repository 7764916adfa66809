"""Interrupts keep what finished: a started package is finished before others start (critical path
permitting), a Ctrl-C keeps the packages that finished, and a killed CLI's run gets its reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import REPO, run_cli, workspace_instance
from processes import within
from unit.test_interrupts import NAMES

from package_builder_dagster.examples import PackageSpec, generate

HOLD_SCRIPT = """\
const fs = require("fs");
const path = require("path");
const [marks, hold] = process.argv.slice(2);
const name = JSON.parse(fs.readFileSync("package.json", "utf8")).name.split("/")[1];
fs.mkdirSync(marks, { recursive: true });
fs.writeFileSync(path.join(marks, `${name}.test-start`), "");
const deadline = Date.now() + 120000;
const wait = () => {
  if (fs.existsSync(path.join(hold, name)) && Date.now() < deadline) return setTimeout(wait, 50);
  fs.writeFileSync(path.join(marks, `${name}.test-end`), "");
  console.log(`tests ok: ${name}`);
};
wait();
"""


# -- (a) the scheduler: a started package finishes before another starts ---------------------------


# -- (b) and (c): the CLI -----------------------------------------------------------------------------

def _workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Five independent trivial packages whose tests wait while tmp/hold/<name> exists; (root, marks, hold)."""
    root = generate(tmp_path / "ws", [PackageSpec(n, "core") for n in NAMES], kind="trivial")
    marks, hold = tmp_path / "marks", tmp_path / "hold"
    (root / "scripts" / "hold-test.js").write_text(HOLD_SCRIPT)
    hold.mkdir()
    for name in NAMES:
        manifest_path = root / "packages" / "core" / name / "package.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"]["test"] = f"node ../../../scripts/hold-test.js {marks} {hold}"
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    for name in NAMES[3:]:
        (hold / name).touch()  # the fourth and fifth packages' tests run until released
    return root, marks, hold


def _start_build(root: Path, out: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env["COLUMNS"] = "200"
    return subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), *args],
                            stdout=out.open("w"), stderr=subprocess.STDOUT, env=env, cwd=REPO)


def _done_lines(out: Path) -> int:
    return sum(1 for line in out.read_text().splitlines() if line.rstrip().endswith(")") and " done (" in line)


def _interrupt_after_three(root: Path, marks: Path, out: Path, sig: int) -> subprocess.Popen:
    """Start `build --concurrency 1`; once the fourth package's tests run (three passed), send `sig`."""
    proc = _start_build(root, out, "--concurrency", "1")
    assert within(lambda: (marks / "p3.test-start").exists() or proc.poll() is not None, 60), "p3's tests never started"
    # what finished is in the event log once the progress printed it (bounded: before the fix it never did)
    within(lambda: _done_lines(out) >= 3, 15)
    proc.send_signal(sig)
    return proc


def test_ctrl_c_keeps_the_finished_packages_and_stale_does_not_rebuild_them(tmp_path):
    root, marks, hold = _workspace(tmp_path)
    out = tmp_path / "build.out"
    proc = _interrupt_after_three(root, marks, out, signal.SIGINT)
    assert proc.wait(timeout=90) == 1
    text = out.read_text()
    assert "3 succeeded" in text, text
    assert "1 interrupted" in text and "1 not started" in text, text
    assert "Traceback" not in text and "InterruptedError" not in text, text
    for name in NAMES[3:]:
        (hold / name).unlink()
    res = run_cli("build", "--workspace", str(root), "--stale", "--concurrency", "2")
    assert res.code == 0, res.output
    builds = [line.split()[-1] for line in (root / "build-events.log").read_text().splitlines() if " start build " in line]
    assert [builds.count(f"@ex/{n}") for n in NAMES] == [1, 1, 1, 2, 1], builds  # p3 built again: it did not finish
    assert "@ex/p0:" not in res.stdout and "@ex/p3:" in res.stdout, res.stdout


def test_a_killed_cli_run_gets_its_reports_and_failed_selects_what_did_not_finish(tmp_path):
    root, marks, hold = _workspace(tmp_path)
    out = tmp_path / "build.out"
    proc = _interrupt_after_three(root, marks, out, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = workspace_instance(root).get_runs(limit=1)[0].run_id
    res = run_cli("report", "--workspace", str(root), "--json")
    assert res.code == 0, res.output
    runs = json.loads(res.stdout)["runs"]
    assert [r["runId"] for r in runs] == [killed] and runs[0]["successful"] == 3, runs
    for name in NAMES[3:]:
        (hold / name).unlink()
    res = run_cli("build", "--workspace", str(root), "--failed", "--concurrency", "2")
    assert res.code == 0, res.output
    assert "@ex/p3:" in res.stdout and "@ex/p4:" in res.stdout and "@ex/p0:" not in res.stdout, res.stdout
    assert "2 succeeded" in res.stdout and killed not in res.stdout.split("summary")[-1], res.stdout  # a new run
