"""Issue 22, "Done when": the Dagster UI, in headless Chromium, shows a package restored from the
artifact cache as materialized with its quality gates' results (recorded when its outputs were built,
in the materialization: a restore evaluates no check), and a running build's progress.

One workspace (three trivial packages, a chain) and one `dagster-webserver` on its instance serve
both tests: the first looks at the restored build, the second starts another build and watches it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CHROMIUM, REPO, open_dagster_page, run_cli, workspace_instance
from processes import free_port

from package_builder_dagster.examples import PackageSpec, generate

pytestmark = pytest.mark.ui

SPECS = [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"]), PackageSpec("c", "service", ["b"])]
WAIT_MS = 60000  # the longest any condition on a page may take to appear on a loaded machine

# Package a's build in the second test: holds until the test creates ../../../release-a (at most 120 s),
# so the run is surely still going while the page is looked at, and ends as soon as it has been.
HOLD = """\
const fs = require("fs");
const release = require("path").join(__dirname, "..", "..", "..", "release-a");
const start = Date.now();
const timer = setInterval(() => {
  if (fs.existsSync(release)) { clearInterval(timer); }
  else if (Date.now() - start > 120000) { console.error("error: never released"); process.exit(1); }
}, 100);
"""


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/server_info")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def restored(tmp_path_factory) -> dict:
    """The workspace built once, then, its instance deleted, built again from the local artifact store
    (both builds share one XDG_CACHE_HOME, set explicitly: a module fixture outlives the per-test one)."""
    base = tmp_path_factory.mktemp("ui-record")
    root = generate(base / "ws", SPECS, kind="trivial")
    env = {"XDG_CACHE_HOME": str(base / "xdg-cache")}
    first = run_cli("build", "--workspace", str(root), env=env)
    shutil.rmtree(root / "production")
    second = run_cli("build", "--workspace", str(root), env=env)
    return {"root": root, "env": env, "first": first, "second": second}


@pytest.fixture(scope="module")
def ui(restored) -> str:
    """`dagster-webserver -w workspace.yaml` on the workspace's instance (the dagster.yaml the builds
    wrote, left as it is); its base URL."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    root = restored["root"]
    assert (root / "production" / ".dagster" / "dagster.yaml").exists(), restored["second"].output
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env.update(PACKAGE_BUILDER_WORKSPACE=str(root), DAGSTER_HOME=str(root / "production" / ".dagster"))
    log = root.parent / "webserver.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: server.poll() is not None or _answers(port), 120, "the webserver")
        assert server.poll() is None, f"dagster-webserver exited {server.returncode}:\n{log.read_text()[-3000:]}"
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _row(page, key: str) -> str:
    """The text of the metadata table row whose key cell is `key` (key, timestamp, value)."""
    row = page.locator("tr", has=page.get_by_text(key, exact=True)).first
    row.wait_for(timeout=WAIT_MS)
    return " ".join(row.inner_text().split())


def test_ui_shows_a_restored_package_materialized_with_its_gates(restored, ui, tmp_path):
    from playwright.sync_api import sync_playwright

    first, second = restored["first"], restored["second"]
    assert first.code == 0, first.output
    assert "cache: 0 hit(s)" in first.stdout, first.stdout
    assert second.code == 0, second.output
    assert "cache: 3 hit(s) (3 local, 0 remote) · 0 miss(es)" in second.stdout, second.stdout
    assert "@ex/c" in second.stdout and "restored from local cache" in second.stdout

    with sync_playwright() as p:
        browser, page = open_dagster_page(p, f"{ui}/assets/ex/c")
        try:
            # Overview: materialized, and the materialization is the restored one
            latest = page.get_by_text("Latest materialization", exact=True)
            latest.wait_for(timeout=WAIT_MS)
            status = " ".join(latest.locator("xpath=..").inner_text().split())
            cache_hit = _row(page, "cache_hit")
            page.screenshot(path=str(tmp_path / "asset.png"))  # the status
            page.locator("tr", has=page.get_by_text("cache_hit", exact=True)).first.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "asset-metadata.png"))  # cache_hit, restored_from
            assert status.startswith("Latest materialization") and "Never materialized" not in status, status
            assert status != "Latest materialization", "no materialization shown"
            assert cache_hit.startswith("cache_hit") and cache_hit.endswith(" true"), cache_hit
            restored_from = _row(page, "restored_from")
            assert restored_from.startswith("restored_from") and restored_from.endswith(" local"), restored_from

            # the gates' results recorded when the outputs were built, in the restored materialization
            gates = _row(page, "quality_gates")
            page.screenshot(path=str(tmp_path / "asset-gates.png"))
            # Checks tab: the check is not evaluated again by a restore (the run planned none)
            page.get_by_role("tab", name="Checks").click()
            page.get_by_text("quality_gates").first.wait_for(timeout=WAIT_MS)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(tmp_path / "checks.png"))
            checks, checks_url = page.inner_text("body"), page.url
            print(f"asset page: {status!r} {cache_hit!r} {restored_from!r} {gates!r}\nchecks page: {checks[:3000]!r}")
        finally:
            browser.close()
    assert gates.startswith("quality_gates") and "passed (recorded when the outputs were built; restored from the cache)" in gates, gates
    assert gates.endswith(": coverage not run; lint not run; typescript not run"), gates  # a trivial package: no gate runs
    # the check itself keeps the evaluation of the build that made the outputs: that build's instance
    # was deleted here, so none is shown (on a kept instance, the Checks tab shows that build's result)
    assert "view=checks" in checks_url, checks_url
    assert "Checks (1)\nExecute all\nquality_gates\nquality_gates\nNot Evaluated" in checks, checks[:2000]


def test_ui_shows_a_running_builds_progress(restored, ui, tmp_path):
    import dagster as dg
    from playwright.sync_api import sync_playwright

    root = restored["root"]
    folder = root / "packages" / "core" / "a"
    (folder / "hold.js").write_text(HOLD)  # a new source file: a cache miss for a (and b, c above it)
    manifest = json.loads((folder / "package.json").read_text())
    manifest["scripts"]["build"] = "node hold.js && " + manifest["scripts"]["build"]
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")

    instance = workspace_instance(root)
    before = {r.run_id for r in instance.get_runs()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKAGE_BUILDER_", "DAGSTER_HOME"))}
    env.update(restored["env"], COLUMNS="200")
    out = tmp_path / "build.log"
    with open(out, "wb") as sink:
        build = subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root)],
                                 cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        def started() -> bool:
            assert build.poll() is None, f"build exited {build.returncode} early:\n{out.read_text()}"
            runs = [r for r in instance.get_runs(limit=5) if r.run_id not in before]
            return bool(runs) and runs[0].status == dg.DagsterRunStatus.STARTED
        _wait(started, 120, "the build's run to start")
        run_id = next(r.run_id for r in instance.get_runs(limit=5) if r.run_id not in before)

        with sync_playwright() as p:
            browser, page = open_dagster_page(p, f"{ui}/runs/{run_id}")
            try:
                line = page.get_by_text("@ex/a: started", exact=False).first
                line.wait_for(timeout=WAIT_MS)
                status_then = instance.get_run_by_id(run_id).status
                shown = " ".join(line.inner_text().split())
                page.get_by_text("Executing (1)", exact=True).wait_for(timeout=WAIT_MS)
                page.screenshot(path=str(tmp_path / "run.png"))
                body = page.inner_text("body")
                print(f"run page: {shown!r}, run {status_then}")
            finally:
                browser.close()
        assert status_then == dg.DagsterRunStatus.STARTED, f"the run had already ended ({status_then}) when the page showed a start"
        assert shown.startswith("@ex/a: started ⟦package-builder⟧") and '"state": "started"' in shown, shown
        assert "Executing (1)\npackages" in body, body[:3000]  # the step running the packages is in progress
        assert "@ex/b: started" not in body  # b waits for a, which is held
        assert not instance.get_run_by_id(run_id).is_finished
    finally:
        (root / "release-a").touch()
        code = build.wait(timeout=180)
    log = out.read_text()
    assert code == 0, log
    assert "3 succeeded" in log and "3 miss(es)" in log, log
