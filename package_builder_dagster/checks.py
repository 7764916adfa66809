"""Typed failures: what went wrong in a package, in a form a person and a fix agent can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

FAILURE_TYPES = ("lint", "typescript", "test", "coverage", "build", "unknown")


@dataclass
class Failure:
    """One failure: its type, where (file and line when known), the rule or code, the message."""

    type: str
    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    command: str | None = None  # the command that reported it
    output_tail: str | None = None  # that command's output tail

    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


_STYLISH_FILE = re.compile(r"^(/\S.*|[A-Za-z]:\\.*|\S.*\.(?:[cm]?[jt]sx?|vue|svelte|json|md))$")
_STYLISH_PROBLEM = re.compile(r"^\s+(\d+):(\d+)\s+(error|warning)\s+(.+?)(?:\s{2,}(\S+))?\s*$")


def eslint_stylish_failures(output: str, command: str | None = None, tail: str | None = None) -> list[Failure]:
    """ESLint errors from its default (stylish) output: a file line, then `line:col  error  message  rule`."""
    failures, current = [], None
    for line in output.splitlines():
        if _STYLISH_FILE.match(line.strip()) and not line.startswith(" "):
            current = line.strip()
            continue
        m = _STYLISH_PROBLEM.match(line)
        if m and m.group(3) == "error":
            failures.append(Failure("lint", m.group(4).strip(), current, int(m.group(1)), m.group(5), command, tail))
    return failures


def typescript_failures(diagnostics: list[dict], command: str | None = None, tail: str | None = None) -> list[Failure]:
    return [Failure("typescript", d["message"], d["file"], d["line"], d["code"], command, tail) for d in diagnostics]


def failure_types(failures: list[Failure]) -> list[str]:
    return sorted({f.type for f in failures})


def format_failures(failures: list[Failure], max_chars: int) -> str:
    """Failures as Markdown for a prompt: one line each, then each failing command with its output
    tail; cut to `max_chars` (the cut is marked)."""
    lines = ["## Failures", ""]
    for f in failures:
        where = f" `{f.location()}`" if f.location() else ""
        rule = f" ({f.rule})" if f.rule else ""
        lines.append(f"- **{f.type}**{where}{rule}: {f.message}")
    seen: set[str] = set()
    for f in failures:
        if f.command and f.command not in seen and f.output_tail:
            seen.add(f.command)
            lines += ["", f"### `{f.command}`", "", "```", f.output_tail.rstrip(), "```"]
    text = "\n".join(lines) + "\n"
    if len(text) > max_chars:
        marker = "\n… (cut to maxPromptChars)\n"
        text = text[: max_chars - len(marker)] + marker
    return text
