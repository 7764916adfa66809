"""The unit tier's guard (tests/unit/conftest.py) fails a test that starts a subprocess or a Dagster instance,
even one that catches the refusal or does it in a fixture, and lets the in-process ones and the other tiers'
tests pass: a real pytest run of a small sample beside a copy of the guard."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

GUARD = Path(__file__).resolve().parents[1] / "unit" / "conftest.py"

SAMPLE = '''
import asyncio
import os
import subprocess
import threading

import dagster as dg
import pytest
from dagster._core.test_utils import instance_for_test


def test_in_process_work_passes(tmp_path):
    (tmp_path / "x").write_text("x")
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()


def test_subprocess_run():
    subprocess.run(["true"], check=True)


def test_popen_refusal_caught():
    try:
        subprocess.Popen(["true"]).wait()
    except BaseException:
        pass


def test_os_system():
    os.system("true")


def test_os_fork():
    if os.fork() == 0:
        os._exit(0)


def test_asyncio_subprocess():
    async def run():
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()
    asyncio.run(run())


def test_dagster_instance_get():
    dg.DagsterInstance.get()


def test_dagster_instance_ephemeral():
    dg.DagsterInstance.ephemeral()


def test_dagster_instance_local_temp(tmp_path):
    dg.DagsterInstance.local_temp(str(tmp_path))


def test_instance_for_test():
    with instance_for_test():
        pass


def test_materialize_makes_an_instance():
    @dg.asset
    def one():
        return 1
    dg.materialize([one])


@pytest.fixture
def started():
    return subprocess.run(["true"]).returncode


def test_a_fixture_that_starts_a_process(started):
    assert started == 0
'''

REFUSED = {
    "test_subprocess_run": "subprocess.Popen",
    "test_popen_refusal_caught": "subprocess.Popen",
    "test_os_system": "os.system",
    "test_os_fork": "os.fork",
    "test_asyncio_subprocess": "asyncio.create_subprocess_exec",
    "test_dagster_instance_get": "DagsterInstance.get",
    "test_dagster_instance_ephemeral": "DagsterInstance.ephemeral",
    "test_dagster_instance_local_temp": "DagsterInstance.local_temp",
    "test_instance_for_test": "DagsterInstance",  # imported by name before the guard: its from_config is refused
    "test_materialize_makes_an_instance": "DagsterInstance",
    "test_a_fixture_that_starts_a_process": "subprocess.Popen",
}


def _outcomes(junit: Path) -> dict[str, str]:
    """test name → "passed", or the failure's (or error's) message."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        problems = [child.get("message", "") + (child.text or "") for child in case if child.tag in ("failure", "error")]
        found.setdefault(case.get("name"), " ".join(problems) or "passed")
        if problems:
            found[case.get("name")] = " ".join(problems)
    return found


OTHER_TIER = '''
import subprocess


def test_another_tier_may_start_a_process():
    assert subprocess.run(["true"]).returncode == 0
'''


def test_the_guard_fails_every_test_that_starts_a_process_or_a_dagster_instance(tmp_path):
    (tmp_path / "unit").mkdir()
    (tmp_path / "integration").mkdir()
    shutil.copy(GUARD, tmp_path / "unit" / "conftest.py")
    (tmp_path / "unit" / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "integration" / "test_other_tier.py").write_text(OTHER_TIER)  # collected after the unit tier's guard
    junit = tmp_path / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", "--rootdir",
                           str(tmp_path), "unit", "integration"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes = _outcomes(junit)
    assert outcomes["test_in_process_work_passes"] == "passed"
    assert outcomes["test_another_tier_may_start_a_process"] == "passed"
    for name, label in REFUSED.items():
        assert outcomes[name] != "passed", f"{name} passed the guard"
        assert label in outcomes[name] and "tests/integration/" in outcomes[name], (name, outcomes[name])
    assert len(outcomes) == len(REFUSED) + 2
