"""Hostile names and refs: refused with exit 2 before anything is written, and refused again by every
writer that turns a name into a path, even when called directly (bypassing discovery)."""

from __future__ import annotations

import pytest

from package_builder_dagster.discovery.package_names import InvalidPackageName, check_package_name, package_path
from package_builder_dagster.paths import UnsafePath, inside
from package_builder_dagster.reporting.reports import package_report_path, write_run_reports

HOSTILE_NAMES = [
    "@x/../../../../package", "@x/../../../../../../../tmp/evil", "..", "../up", "@x/a/b", "@x/..", "@../x",
    ".hidden", "-rf", "@x/-rf", "_under", "@x/.git", "a b", " lead", "név-ünicode", "tab\tname", "nl\nname",
    "back\\slash", "x" * 215, "", "node_modules", "@/x", "@x/",
]
LEGACY_NAMES = ["CapitalLetters", "@Scope/Name", "tilde~name"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_npm_or_the_tool_refuses_are_refused(name):
    with pytest.raises(InvalidPackageName):
        check_package_name(name)


@pytest.mark.parametrize("name", LEGACY_NAMES)
def test_legacy_valid_names_are_accepted_with_a_warning(name):
    assert check_package_name(name)


def test_valid_names_map_to_distinct_files_inside_the_folder(tmp_path):
    names = ["@s/lib.node", "@s/lib.web", "@s/lib", "lib", "lib.node", "@a__b/c", "@a/b__c", "@s/lib.node.json"]
    paths = [package_path(tmp_path, n, ".json") for n in names]
    assert len(set(paths)) == len(names)
    assert package_path(tmp_path, "@s/lib.node", ".json") == tmp_path / "@s" / "lib.node.json"
    assert all(p.resolve().is_relative_to(tmp_path.resolve()) for p in paths)


@pytest.mark.parametrize("name", ["@x/../../../../package", "../evil", "@x/../../tmp/evil", "/abs/evil", "-rf"])
def test_writers_refuse_a_hostile_name_that_bypassed_discovery(tmp_path, name):
    reports = tmp_path / "reports"
    with pytest.raises((InvalidPackageName, UnsafePath)):
        package_report_path(reports, None, "run-1", name)
    with pytest.raises((InvalidPackageName, UnsafePath)):
        package_path(tmp_path / "logs" / "run-1", name)
    summary = {"runId": "run-1", "timestamp": "2026-11-27T00:00:00+00:00", "packageReports": []}
    with pytest.raises((InvalidPackageName, UnsafePath)):
        write_run_reports(reports, [{"packageName": "ok"}, {"packageName": name}], summary, "<html/>")
    assert not reports.exists() or not any(reports.rglob("*")), "nothing is written when one path is refused"


@pytest.mark.parametrize("run_id", ["../../escape", "..", "/abs", "a/b", ""])
def test_a_run_folder_never_leaves_the_reports_folder(tmp_path, run_id):
    with pytest.raises(UnsafePath):
        package_report_path(tmp_path, None, run_id, "ok")


def test_a_package_named_like_the_summary_cannot_overwrite_it(tmp_path):
    summary = {"runId": "r", "timestamp": "2026-11-27T00:00:00+00:00", "packageReports": []}
    with pytest.raises(UnsafePath):
        write_run_reports(tmp_path, [{"packageName": "suite-summary"}], summary)


def test_inside_follows_symlinks(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        inside(tmp_path / "folder", "link", "escaped.json")
    assert inside(tmp_path / "folder", "@s", "a.json") == tmp_path / "folder" / "@s" / "a.json"


# ---- the CLI in a sandbox -------------------------------------------------------------------


def test_the_local_registry_s_token_never_reaches_a_repr(tmp_path):
    from package_builder_dagster.local_registry import LocalRegistry

    registry = LocalRegistry("http://127.0.0.1:1/", "npm_SECRET_TOKEN", None, tmp_path / "log")  # type: ignore[arg-type]
    assert "SECRET" not in repr(registry)
