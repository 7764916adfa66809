"""Issue 20, points 6 and 7: bad input and faults end in one line (exit 2 or 1), never a traceback;
no input destroys or silently accepts what it should not."""

from __future__ import annotations

import json

from conftest import REPO
from unit.test_bad_input import _one_line

from package_builder_dagster.cli.main import main

# ---- 6: one line instead of a traceback -------------------------------------------------------


# ---- 7: destructive or silent inputs ------------------------------------------------------------

def test_example_refuses_a_non_empty_folder(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "my-own"}\n')
    (folder / "notes.txt").write_text("mine\n")
    assert main(["example", str(folder), "--kind", "trivial"]) == 2
    assert "not empty" in _one_line(capsys.readouterr().err)
    assert (folder / "package.json").read_text() == '{"name": "my-own"}\n' and not (folder / ".git").exists()
    assert main(["example", str(folder), "--kind", "trivial", "--force"]) == 0
    assert json.loads((folder / "package.json").read_text())["name"] == "ex-monorepo"
    assert main(["example", str(tmp_path / "new"), "--kind", "trivial"]) == 0
    assert "--force" in (REPO / "production" / "scripts" / "demo.sh").read_text()
