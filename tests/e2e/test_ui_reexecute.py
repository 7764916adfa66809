"""CLI runs are first-class Dagster runs: the UI re-executes a failed `package-builder build` run
"from asset failure", and `package-builder ui` stops everything it started on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import CHROMIUM, REPO, open_dagster_page, run_cli, workspace_instance
from processes import alive, descendants, free_port

from package_builder_dagster.examples import PackageSpec, generate


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "package-builder ui exited early"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no UI on port {port} after {seconds} s")


@pytest.mark.ui
def test_ui_reexecutes_a_cli_run_from_asset_failure_and_ui_stops_on_sigterm(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    specs = [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"], inject={"test-fail"}),
             PackageSpec("c", "service", ["b"]), PackageSpec("d", "utility", ["a"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    first = run_cli("build", "--workspace", str(root), "--concurrency", "2")
    assert first.code == 1 and "failed  @ex/b in test" in first.stdout and "blocked @ex/c by @ex/b" in first.stdout, first.output
    instance = workspace_instance(root)
    parent = instance.get_runs(limit=1)[0]
    assert parent.remote_job_origin is not None and parent.remote_job_origin.location_name == "package-builder"

    manifest = root / "packages" / "utilities" / "b" / "package.json"  # the fix
    data = json.loads(manifest.read_text())
    data["scripts"]["test"] = data["scripts"]["test"].replace(" fail ", " ok ")
    manifest.write_text(json.dumps(data, indent=2))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    ui = subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "ui", "--workspace", str(root), "--port", str(port)],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, ui)
        with sync_playwright() as p:
            browser, page = open_dagster_page(p, f"http://127.0.0.1:{port}/runs/{parent.run_id}")
            reexecute = page.get_by_role("button", name="Re-execute all")
            reexecute.wait_for(timeout=30000)
            # the drop-down beside "Re-execute all": the button of the same group that is not it
            reexecute.locator("xpath=ancestor::*[.//button][2]//button[not(contains(., 'Re-execute'))]").first.click()
            page.get_by_role("menuitem", name="From asset failure").click(timeout=15000)
            try:  # a confirmation dialog, in the versions that ask
                page.get_by_role("button", name="Launch", exact=False).click(timeout=5000)
            except Exception:
                pass
            page.wait_for_timeout(1000)
            page.screenshot(path=str(tmp_path / "reexecute.png"))
            browser.close()

        deadline = time.monotonic() + 180
        child = None
        while time.monotonic() < deadline:
            runs = [r for r in workspace_instance(root).get_runs(limit=5) if r.parent_run_id == parent.run_id]
            child = runs[0] if runs else None
            if child is not None and child.is_finished:
                break
            time.sleep(1)
        assert child is not None and child.is_finished, "the re-execution did not finish"
        assert child.is_success, f"re-execution ended {child.status}"
        built = {r.event_log_entry.dagster_event.asset_key.to_user_string()
                 for r in workspace_instance(root).get_records_for_run(
                     child.run_id, of_type=__import__("dagster").DagsterEventType.ASSET_MATERIALIZATION).records}
        assert {k for k in built if k.startswith("ex/")} == {"ex/b", "ex/c"}

        # `package-builder ui` passes SIGTERM on: nothing it started (dagster dev, webserver, daemon,
        # code server) outlives it
        started = descendants(ui.pid)
        assert started, "package-builder ui started no process"
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in started):
            time.sleep(0.5)
        assert not [pid for pid in started if alive(pid)], "processes of dagster dev still run after SIGTERM"
    finally:
        if ui.poll() is None:
            for pid in descendants(ui.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            ui.kill()
