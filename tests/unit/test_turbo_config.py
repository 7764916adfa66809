"""turbo.json / turbo.jsonc as plain data (issue 24): the JSONC reader, in process."""

from __future__ import annotations

import json

from package_builder_dagster.discovery.turbo.jsonc import strip_jsonc


def test_jsonc_comments_and_trailing_commas_leave_strings_alone():
    text = '{"a": "x//y, /* z */ }", /* c, */ "b": [1, 2, // n\n ],}'
    assert json.loads(strip_jsonc(text)) == {"a": "x//y, /* z */ }", "b": [1, 2]}
