"""The run's process: a fork of `package-builder build` (Dagster imported once), when forking is safe."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import run_cli, workspace_instance

from package_builder_dagster.examples import PackageSpec, generate

ANCESTORS_SCRIPT = """\
const fs = require("fs");
const found = [];
let pid = process.ppid;
while (pid > 1) {
  found.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\\0").join(" ").trim());
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  pid = parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1], 10);
}
fs.writeFileSync(process.argv[2], JSON.stringify(found));
"""


def test_the_run_process_is_a_fork_of_the_cli_and_the_run_a_real_dagster_run(tmp_path):
    root = generate(tmp_path / "ws", [PackageSpec("a", "core")], kind="trivial")
    (root / "scripts" / "ancestors.js").write_text(ANCESTORS_SCRIPT)
    seen = tmp_path / "ancestors.json"
    manifest_path = root / "packages" / "core" / "a" / "package.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["scripts"]["build"] = f"node ../../../scripts/ancestors.js {seen}"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    res = run_cli("build", "--workspace", str(root))
    assert res.code == 0, res.output
    pythons = [cmd for cmd in json.loads(seen.read_text()) if "python" in cmd.split(" ")[0]]
    # the build command's nearest Python ancestor runs the run: the CLI itself, not `dagster api execute_run`
    assert "package_builder_dagster.cli build" in pythons[0] and "execute_run" not in " ".join(pythons), pythons
    runs = workspace_instance(root).get_runs(limit=1)
    assert runs[0].is_success and runs[0].tags.get("package-builder/source") == "cli", runs


NO_FORK_SCRIPT = """\
import sqlite3, sys, threading
from package_builder_dagster.orchestration.launch import can_fork

assert can_fork(), "a fresh process with one thread and no database open may fork"
stop = threading.Event()
thread = threading.Thread(target=stop.wait)
thread.start()
try:
    assert not can_fork(), "another thread runs"
finally:
    stop.set()
    thread.join()
connection = sqlite3.connect(sys.argv[1])
connection.execute("CREATE TABLE t (x)")
try:
    assert not can_fork(), "a database is open"
finally:
    connection.close()
assert can_fork(), "the thread ended and the database is closed"
print("checked")
"""


def test_no_fork_while_another_thread_runs_or_a_database_is_open(tmp_path):
    # in a process of its own: the test process may run threads left by earlier tests
    proc = subprocess.run([sys.executable, "-c", NO_FORK_SCRIPT, str(tmp_path / "index.db")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "checked", proc.stdout + proc.stderr
