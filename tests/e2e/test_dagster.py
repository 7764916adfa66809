"""Dagster integration: definitions load, the UI shows every package, per-package steps, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, open_dagster_page, run_cli
from integration.test_dagster import DAGSTER_BIN, _env
from processes import free_port

from package_builder_dagster.examples import PackageSpec, example_suite, generate


@pytest.mark.ui
def test_ui_shows_every_package_asset(tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    root = generate(tmp_path / "ws", example_suite(), kind="trivial")
    assert run_cli("build", "--workspace", str(root), "--select", "+@ex/http-client").code == 0
    port = free_port()
    server = subprocess.Popen(
        [str(DAGSTER_BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser, page = open_dagster_page(p, f"http://127.0.0.1:{port}/assets", height=2400, timeout_ms=60000)
            expected = [f"ex / {spec.short}" for spec in example_suite()]
            for text in [*expected, "suite_verification", "suite_summary", "Never materialized"]:  # the condition, not a time
                page.get_by_text(text, exact=text in expected).first.wait_for(timeout=60000)
            body = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "assets.png"))
            browser.close()
        for spec in example_suite():
            assert f"ex / {spec.short}" in body
        assert "suite_verification" in body and "suite_summary" in body
        assert "Never materialized" in body  # the packages not built yet
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_per_package_grouping(tmp_path, cli):
    specs = [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"], inject={"build-fail"}),
             PackageSpec("c", "service", ["b"]), PackageSpec("d", "utility", ["a"])]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"workspaceRoot": str(root), "dagster": {"grouping": "per-package"}, "maxConcurrentBuilds": 2}))
    res = cli("build", "--config", str(cfg))
    assert res.code == 1, res.output
    assert "failed  @ex/b in build" in res.stdout
    assert "blocked @ex/c by @ex/b" in res.stdout and "2 succeeded" in res.stdout


def test_ctrl_c_kills_every_running_command(tmp_path):
    specs = [PackageSpec("slow-a", "core", sleep_ms=120000), PackageSpec("slow-b", "core", sleep_ms=120000)]
    root = generate(tmp_path / "ws", specs, kind="trivial")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    proc = subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = root / "pids.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
        time.sleep(0.2)
    children = [int(p) for p in pids.read_text().split()]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    time.sleep(0.5)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", f"{pid} still runs"
    assert "0 succeeded" in out
