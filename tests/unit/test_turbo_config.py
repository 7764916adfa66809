"""turbo.json / turbo.jsonc as plain data (issue 24): the JSONC reader, in process."""

from __future__ import annotations

import json

from package_builder_dagster.discovery.turbo.jsonc import strip_jsonc


def test_jsonc_comments_and_trailing_commas_leave_strings_alone():
    text = '{"a": "x//y, /* z */ }", /* c, */ "b": [1, 2, // n\n ],}'
    assert json.loads(strip_jsonc(text)) == {"a": "x//y, /* z */ }", "b": [1, 2]}


def test_input_globs_read_character_classes_as_turbo_does():
    from package_builder_dagster.discovery.turbo.inputs import glob_regex

    assert glob_regex("src/[ab]*.ts").fullmatch("src/alpha.ts") and glob_regex("src/[ab]*.ts").fullmatch("src/b.ts")
    assert not glob_regex("src/[ab]*.ts").fullmatch("src/c.ts")
    assert glob_regex("src/[a-c].ts").fullmatch("src/b.ts") and not glob_regex("src/[a-c].ts").fullmatch("src/d.ts")
    assert glob_regex("src/[!a].ts").fullmatch("src/b.ts") and not glob_regex("src/[!a].ts").fullmatch("src/a.ts")
    assert not glob_regex("src/[!a].ts").fullmatch("src//.ts")
    assert glob_regex("**/*.{ts,tsx}").fullmatch("src/deep/x.tsx")
