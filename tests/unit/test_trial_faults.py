"""Faults found by running the tool on public monorepos (mobx, zod, react-spring, svgr), each fixed here."""

from __future__ import annotations

from package_builder_dagster.discovery.undeclared_imports import find_undeclared_imports
from package_builder_dagster.execution.record import PackageRecord
from package_builder_dagster.execution.steps import StepRun
from package_builder_dagster.execution.tool_output import first_error_line, format_diagnostic
from package_builder_dagster.reporting.reports import waited_for


def test_the_first_error_line_is_the_one_that_says_what_went_wrong():
    node = ("(node:31932) ExperimentalWarning: `--experimental-loader` may be removed in the future\n\n"
            "Error [ERR_LOADER_CHAIN_INCOMPLETE]: \"./mock-loader.js 'resolve'\" did not call the next hook\n"
            "    at Hooks.resolve (node:internal/modules/esm/hooks:314:13)\n"
            "    at async handleMessage (node:internal/modules/esm/worker:196:18)\n")
    assert first_error_line(node).startswith("Error [ERR_LOADER_CHAIN_INCOMPLETE]")
    pnpm = " WARN  Local package.json exists, but node_modules missing\n ERROR  Refusing to run pnpm@10.12.1\nnext line\n"
    assert first_error_line(pnpm) == "ERROR  Refusing to run pnpm@10.12.1"
    eslint = "\nOops! Something went wrong! :(\n\nESLint: 9.1.0\n\nhttps://eslint.org/chat/help to chat with the team.\n"
    assert first_error_line(eslint) == "Oops! Something went wrong! :("


def test_a_diagnostic_without_a_file_names_no_file():
    assert format_diagnostic({"file": None, "line": None, "code": "TS2688", "message": "Cannot find type definition"}) \
        == "TS2688: Cannot find type definition"


def test_test_fixtures_are_not_imports(tmp_path):
    pkg = tmp_path / "packages" / "codemod"
    (pkg / "__tests__" / "fixtures").mkdir(parents=True)
    (pkg / "__tests__" / "fixtures" / "input.js").write_text("import { observable } from 'mobx'\n")
    (pkg / "src").mkdir()
    (pkg / "src" / "index.js").write_text("import x from 'other'\n")
    found = find_undeclared_imports([("codemod", pkg, set()), ("mobx", tmp_path / "packages" / "mobx", set()),
                                     ("other", tmp_path / "packages" / "other", set())], tmp_path)
    assert [(f.imported, f.file.split("/")[-1]) for f in found] == [("other", "index.js")]


def test_a_wait_ends_when_the_dependency_s_build_did_and_never_after_the_package_started():
    start = "2026-01-01T00:00:00.000+00:00"
    dependency = PackageRecord(package="a", state="done", start_time=start, end_time="2026-01-01T00:03:20.000+00:00",
                               steps=[StepRun("build", "build", "passed", 10_000, None, 0, start),
                                      StepRun("test", "test", "passed", 190_000, None, 0, "2026-01-01T00:00:10.000+00:00")])
    dependent = PackageRecord(package="b", state="done", start_time="2026-01-01T00:00:10.000+00:00")
    assert waited_for(start, dependent, dependency) == 10_000  # its build, not its tests (190 s more)
    early = PackageRecord(package="c", state="done", start_time="2026-01-01T00:00:04.000+00:00")
    assert waited_for(start, early, dependency) == 4_000
