"""Output a person can read: piped, no identifier is cut or split across lines; in an 80-column
terminal, tables wrap their cells instead of cutting them."""

from __future__ import annotations

import re

import pytest

from package_builder_dagster.cli.main import main
from package_builder_dagster.examples import PackageSpec, generate
from package_builder_dagster.reporting.reports import write_run_reports

LONG = ["validator-with-a-rather-long-descriptive-name-one", "validator-with-a-rather-long-descriptive-name-two"]
RUN_ID = "8254c0de-0000-4000-8000-1234567890ab"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    for key in ("PACKAGE_BUILDER_WORKSPACE", "PACKAGE_BUILDER_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    root = generate(tmp_path / "ws", [PackageSpec(LONG[0]), PackageSpec(LONG[1], deps=[LONG[0]])], kind="trivial")
    reports = [{"packageName": f"@ex/{n}", "status": "failed" if i else "success", "duration": 1000, "startTime": None,
                "endTime": None, "dependencies": [], "fixAttempts": [], "waitedFor": [], "slotWaitTime": 0,
                "phase": "test", "error": "x"} for i, n in enumerate(LONG)]
    summary = {"runId": RUN_ID, "timestamp": "2026-11-27T08:00:00+00:00", "startTime": "2026-11-27T08:00:00+00:00",
               "runStatus": "FAILURE", "totalPackages": 2, "successful": 1, "failed": 1, "blocked": 0,
               "totalDuration": 2000, "slotUtilization": 0.5, "criticalPath": [f"@ex/{LONG[0]}"], "packageReports": reports}
    write_run_reports(root / "production" / "reports", reports, summary)
    return root


def _visible(text: str) -> list[str]:
    return re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()


def test_piped_output_keeps_every_identifier_whole_on_one_line(workspace, capsys):
    for argv in (["graph", "-w", str(workspace)], ["report", "-w", str(workspace)]):
        main(argv)
        lines = capsys.readouterr().out.splitlines()
        for name in LONG:
            assert any(f"@ex/{name}" in line for line in lines), (argv, name, lines)
        assert not any("…" in line for line in lines)
    main(["report", "-w", str(workspace)])
    assert any(RUN_ID in line for line in capsys.readouterr().out.splitlines())


def test_an_80_column_terminal_gets_tables_that_wrap_rather_than_cut(workspace, capsys, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: a terminal, though pytest captures the output
    monkeypatch.setenv("COLUMNS", "80")
    for argv in (["graph", "-w", str(workspace)], ["report", "-w", str(workspace)]):
        main(argv)
        lines = _visible(capsys.readouterr().out)
        table = [line for line in lines if line[:1] in "┏┃┡│└"]
        assert table and all(len(line) <= 80 for line in table), (argv, [len(x) for x in table])
        assert not any("…" in line for line in table), table
        rows = [line.strip("│").split("│") for line in table if line.startswith("│")]
        columns = ["".join(row[i].strip() for row in rows if len(row) > i) for i in range(max(map(len, rows)))]
        for name in LONG:  # each name whole when its column's wrapped pieces are read top to bottom
            assert any(f"@ex/{name}" in column for column in columns), (argv, name, columns)
