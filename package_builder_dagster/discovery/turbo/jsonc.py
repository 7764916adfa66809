"""JSON with comments (`//`, `/* */`) and trailing commas, as turbo.jsonc and tsconfig.json allow, read with the json module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from package_builder_dagster.errors import UsageError


def strip_jsonc(text: str) -> str:
    """`text` with comments and trailing commas blanked out (strings untouched, line numbers kept)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment")
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j + 2]))
            i = j + 2
        elif c == ",":
            j = i + 1
            while j < n and (text[j].isspace() or text.startswith("//", j) or text.startswith("/*", j)):
                if text.startswith("//", j):
                    k = text.find("\n", j)
                    j = n if k < 0 else k
                elif text.startswith("/*", j):
                    k = text.find("*/", j + 2)
                    j = n if k < 0 else k + 2
                else:
                    j += 1
            out.append(" " if j < n and text[j] in "}]" else ",")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_jsonc(path: Path, where: str) -> dict[str, Any]:
    """A JSON(C) file whose top level is an object; a UsageError naming `where` otherwise."""
    try:
        data = json.loads(strip_jsonc(path.read_text()))
    except (ValueError, OSError) as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise UsageError(f"{where}: not valid JSON ({detail})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: the top level must be an object")
    return data
