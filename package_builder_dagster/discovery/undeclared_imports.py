"""Workspace imports a package uses but does not declare in its package.json, as plain data.

A package that imports `@x/utils` (in source or in tests: `import`, `export ... from`, `require`,
`import()`, `vi.mock`, `jest.requireActual`, ...) without listing it in any dependency field builds
in the wrong order and breaks when published. This module finds such imports by tokenizing each
source file (comments dropped, strings kept) and matching the import forms on the tokens.

Tokenizer approximations (good enough for finding module specifiers, not a JS parser):
- A `/` starts a regular expression literal unless the previous token ends an expression (an
  identifier that is not a keyword like `return`, a number, a string, `)` or `]`); after `}` it is
  taken as a regex, after `<` (a JSX closing tag `</a>`) and before `>` (`/>`) as punctuation. A
  regex literal never spans lines: with no closing `/` on the line the `/` is punctuation.
- '...' and "..." strings end at an unescaped newline (JSX text such as `<p>Don't</p>` then spoils
  at most the rest of its line). Escapes in specifiers are not decoded.
- Template literals nest properly (`${ ... }` is tokenized as code); one with `${` is never a
  specifier.
- In `.vue` and `.svelte` files only the `<script>` blocks are read (the markup is blanked,
  keeping line numbers).
- JSX text is read as code, so a `//` or `/*` in JSX text is taken as a comment.

Nothing in this module knows about Dagster.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE_EXTENSIONS = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".vue", ".svelte")
DECLARATION_SUFFIXES = (".d.ts", ".d.mts", ".d.cts")
# Test fixtures and snapshots are input data (a codemod's before/after files), not the package's imports.
SKIPPED_DIRS = frozenset({"node_modules", "dist", "build", "coverage", ".turbo", "out", "fixtures", "__fixtures__", "__snapshots__"})
MAX_FILE_BYTES = 1_000_000
_QUOTES = ("'", '"', "`")

# `vi.<method>(...)` / `jest.<method>(...)` calls whose first argument is a module specifier.
MOCK_METHODS = {
    "vi": frozenset({"mock", "doMock", "unmock", "doUnmock", "importActual", "importMock"}),
    "jest": frozenset({"mock", "doMock", "unmock", "dontMock", "setMock", "requireActual", "requireMock",
                       "createMockFromModule"}),
}


@dataclass(frozen=True)
class UndeclaredImport:
    """A workspace package named in a package's files but not in its package.json."""

    importer: str  # package name that imports
    imported: str  # workspace package name it names
    file: str  # path relative to the workspace root, POSIX
    line: int  # 1-based line of the module specifier string
    via: str  # "import" | "export" | "require" | "require.resolve" | "import()" | "vi.mock" | ...

    def message(self) -> str:
        return (f"{self.importer} imports {self.imported} ({self.file}:{self.line}, {self.via}) "
                "but its package.json does not declare it")


# ---- tokenizer ----------------------------------------------------------------------------------

# Token kinds: "id", "str" (a string or a template literal without `${`), "tmpl" (a template
# literal with `${`), "num", "regex", "punct", "comment".
_TOKEN = re.compile(r"""\s*(?:
    (?P<comment>//[^\n]*|/\*[\s\S]*?(?:\*/|\Z))
  | (?P<str>'(?:[^'\\\n]|\\[\s\S])*'?|"(?:[^"\\\n]|\\[\s\S])*"?)
  | (?P<id>[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*)
  | (?P<num>\.?\d[\w.]*)
  | (?P<special>[`/{}])
  | (?P<punct>=>|\.\.\.|\S)
)""", re.VERBOSE)
_TEMPLATE_CHUNK = re.compile(r"(?:[^`\\$]|\\[\s\S]|\$(?!\{))*")
_REGEX = re.compile(r"/(?:[^/\\\[\n]|\\[^\n]|\[(?:[^\]\\\n]|\\[^\n])*\])+/[A-Za-z]*")
_SCRIPT_BLOCK = re.compile(r"(<script\b[^>]*>)([\s\S]*?)(</script\s*>|\Z)", re.IGNORECASE)
_KEYWORDS_BEFORE_EXPRESSION = frozenset({
    "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do",
    "else", "yield", "await", "extends"})


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, start offset) for each token of JS/TS `text`, comments included. For "str"
    tokens the value is the string's content without its quotes.

    The common tokens (identifiers, punctuation, strings, comments, with the whitespace before them)
    are read by one `finditer`; the loop leaves it only for a template literal, a regex literal or
    the `}` that closes a template's `${`, which need state."""
    toks: list[tuple[str, str, int]] = []
    append = toks.append
    braces: list[int] = []  # for each open `${`: the `{` nesting depth inside it
    pos, n = 0, len(text)

    def template(start: int, first: int) -> int:
        """Template text from `first` (after a backtick, or after the `}` closing a `${`); returns
        where code resumes."""
        end = _TEMPLATE_CHUNK.match(text, first).end()
        if text.startswith("${", end):
            braces.append(0)
            append(("tmpl", "", start))
            return end + 2
        # a closing backtick, or the end of the text (unterminated)
        append(("str", text[first:end], start) if text[start] == "`" else ("tmpl", "", start))
        return end + 1

    while pos < n:
        for m in _TOKEN.finditer(text, pos):
            kind = m.lastgroup
            if kind == "special":
                start = m.start(kind)
                ch = text[start]
                if ch == "`":
                    pos = template(start, start + 1)
                    break
                if ch == "}" and braces:
                    if braces[-1] == 0:
                        braces.pop()
                        pos = template(start, start + 1)
                        break
                    braces[-1] -= 1
                elif ch == "{" and braces:
                    braces[-1] += 1
                elif ch == "/" and text[start + 1:start + 2] != ">" and _regex_allowed(toks):
                    regex = _REGEX.match(text, start)
                    if regex:
                        append(("regex", regex.group(), start))
                        pos = regex.end()
                        break
                append(("punct", ch, start))
            elif kind == "str":
                start = m.start(kind)
                value = m.group(kind)
                append((kind, value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:], start))
            else:
                append((kind, m.group(kind), m.start(kind)))
        else:
            break
    return toks


def _regex_allowed(toks: list[tuple[str, str, int]]) -> bool:
    """Whether a `/` after `toks` starts a regex literal (see the module's approximations)."""
    for kind, value, _ in reversed(toks):
        if kind == "comment":
            continue
        if kind in ("str", "tmpl", "num", "regex"):
            return False
        if kind == "id":
            return value in _KEYWORDS_BEFORE_EXPRESSION
        return value not in (")", "]", "<")
    return True


def strip_comments(text: str) -> str:
    """`text` with every comment blanked (newlines kept, so line numbers stay right); strings,
    template literals and regex literals are left as they are."""
    parts, last = [], 0
    for kind, value, start in _tokens(text):
        if kind == "comment":
            parts.append(text[last:start])
            parts.append(re.sub(r"[^\n]", " ", value))
            last = start + len(value)
    parts.append(text[last:])
    return "".join(parts)


def script_blocks(text: str) -> str:
    """A `.vue` or `.svelte` file with everything but its `<script>` blocks blanked (newlines kept)."""
    out, last = [], 0
    for m in _SCRIPT_BLOCK.finditer(text):
        out.append(re.sub(r"[^\n]", " ", text[last:m.start(2)]))
        out.append(m.group(2))
        last = m.end(2)
    out.append(re.sub(r"[^\n]", " ", text[last:]))
    return "".join(out)


# ---- import forms -------------------------------------------------------------------------------

_CLAUSE_PUNCT = frozenset({"{", "}", ",", "*"})
_MAX_CLAUSE_TOKENS = 400


def _clause_source(toks: list[tuple[str, str, int]], i: int) -> int | None:
    """After `import`/`export` at i-1: the index of the `from "..."` string ending the clause, if any."""
    depth = 0
    end = min(len(toks) - 1, i + _MAX_CLAUSE_TOKENS)
    while i < end:
        kind, value, _ = toks[i]
        if depth == 0 and kind == "id" and value == "from" and toks[i + 1][0] == "str":
            return i + 1
        if kind == "punct":
            if value not in _CLAUSE_PUNCT:
                return None
            if value == "{":
                depth += 1
            elif value == "}":
                depth -= 1
                if depth < 0:
                    return None
                if depth == 0 and not (toks[i + 1][0] == "id" and toks[i + 1][1] == "from"
                                       or toks[i + 1][1] == ","):
                    return None
        elif kind == "str" and depth == 0:
            return None
        elif kind not in ("id", "str"):
            return None
        i += 1
    return None


def _skip_type_arguments(toks: list[tuple[str, str, int]], i: int) -> int:
    """Given toks[i] == "<": the index just after its matching ">" (or i when unbalanced)."""
    depth, braces, j, end = 0, 0, i, min(len(toks), i + _MAX_CLAUSE_TOKENS)
    while j < end:
        value = toks[j][1] if toks[j][0] == "punct" else None
        if value == "<":
            depth += 1
        elif value == ">":
            depth -= 1
            if depth == 0:
                return j + 1
        elif value == "{":
            braces += 1
        elif value == "}":
            braces -= 1
        elif value == ";" and braces <= 0:
            return i  # a statement ended: this `<` was a comparison
        j += 1
    return i


def _call_argument(toks: list[tuple[str, str, int]], j: int) -> int | None:
    """toks[j] should open a call (after optional type arguments): the index of its string argument."""
    if j < len(toks) and toks[j] == ("punct", "<", toks[j][2]):
        j = _skip_type_arguments(toks, j)
    if j + 1 < len(toks) and toks[j][0] == "punct" and toks[j][1] == "(" and toks[j + 1][0] == "str":
        return j + 1
    return None


def module_specifiers(text: str) -> list[tuple[str, int, str]]:
    """(specifier, line, via) for every module specifier in JS/TS source text, comments excluded."""
    toks = [t for t in _tokens(text) if t[0] != "comment"]
    toks.append(("eof", "", len(text)))
    found: dict[int, str] = {}  # string token index -> via (the first form found wins)

    def add(string_index: int | None, via: str) -> None:
        if string_index is not None and string_index not in found:
            found[string_index] = via

    for i, (kind, value, _) in enumerate(toks):
        if kind != "id" or value not in ("import", "export", "require", "vi", "jest"):
            continue
        if i > 0 and toks[i - 1][0] == "punct" and toks[i - 1][1] == ".":
            continue  # `x.require(...)`, `obj.import(...)`
        nxt = toks[i + 1]
        if value == "import":
            if nxt[1] == "(" and nxt[0] == "punct":
                add(_call_argument(toks, i + 1), "import()")
            elif nxt[0] == "str":
                add(i + 1, "import")
            elif nxt[0] == "punct" and nxt[1] == ".":
                if [t[1] for t in toks[i + 2:i + 5]] == ["meta", ".", "resolve"]:
                    add(_call_argument(toks, i + 5), "import.meta.resolve")
            else:  # `import type` needs only the package's declarations, but they come from its build too
                typed = nxt[0] == "id" and nxt[1] == "type" and toks[i + 2][1] != "from"
                add(_clause_source(toks, i + 1), "import type" if typed else "import")
        elif value == "export":
            if nxt[0] == "punct" and nxt[1] in ("*", "{") or nxt[0] == "id" and nxt[1] == "type":
                add(_clause_source(toks, i + 1), "export type" if nxt[1] == "type" else "export")
        elif value == "require":
            if nxt[0] == "punct" and nxt[1] == "(":
                add(_call_argument(toks, i + 1), "require")
            elif nxt[1] == "." and toks[i + 2][1] == "resolve":
                add(_call_argument(toks, i + 3), "require.resolve")
        elif nxt[0] == "punct" and nxt[1] == "." and toks[i + 2][0] == "id" and toks[i + 2][1] in MOCK_METHODS[value]:
            add(_call_argument(toks, i + 3), f"{value}.{toks[i + 2][1]}")

    out = []
    line, line_pos = 1, 0
    for index in sorted(found):
        start = toks[index][2]
        line += text.count("\n", line_pos, start)
        line_pos = start
        out.append((toks[index][1], line, found[index]))
    return out


# ---- the workspace scan -------------------------------------------------------------------------

def _package_of(specifier: str) -> str:
    """The package name a bare specifier starts with: `@s/n/sub` → `@s/n`, `n/sub` → `n`."""
    parts = specifier.split("/", 2)
    return "/".join(parts[:2]) if specifier.startswith("@") else parts[0]


def source_files(package_dir: Path) -> Iterator[str]:
    """The package's source and test files (paths under `package_dir`, sorted), skipping build output, dependencies,
    dotted folders, declaration files, files over 1 MB and nested packages (folders with their own
    package.json)."""
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")
                             and not os.path.isfile(os.path.join(dirpath, d, "package.json")))
        for name in sorted(filenames):
            if name.endswith(SOURCE_EXTENSIONS) and not name.endswith(DECLARATION_SUFFIXES):
                path = os.path.join(dirpath, name)
                try:
                    if os.path.getsize(path) <= MAX_FILE_BYTES:
                        yield path
                except OSError:
                    continue


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return Path(path).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def find_undeclared_imports(packages: list[tuple[str, Path, set[str]]], root: Path) -> list[UndeclaredImport]:
    """packages: (name, package dir, names it declares in any dependency field). Scans each package's
    source and test files. One finding per (importer, imported) pair, at its first file and line (by
    file path, then line); sorted by importer, then imported."""
    names = {name for name, _, _ in packages}
    if not names:
        return []
    # A workspace name starting a string, as a specifier does: after a quote, before a quote or `/`
    # (longest names first, so `"@x/utils-extra"` is `@x/utils-extra`, not `@x/utils`).
    mention = re.compile("(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?=[\"'`/])")
    root_str = os.path.abspath(root)
    findings: list[UndeclaredImport] = []
    for importer, package_dir, declared in packages:
        candidates = names - set(declared) - {importer}
        if not candidates:
            continue
        first: dict[str, UndeclaredImport] = {}
        for path in source_files(Path(package_dir)):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            if path.endswith((".vue", ".svelte")):
                text = script_blocks(text)
            last = -1
            for m in mention.finditer(text):
                if m.group() in candidates and text[m.start() - 1:m.start()] in _QUOTES:
                    last = m.end()
            if last < 0:
                continue  # the fast path: most files name no undeclared workspace package at all
            # Nothing after the line of the last mention can be a finding: tokenize up to there only
            # (imports are usually at the top, so this is usually a few lines).
            cut = text.find("\n", last)
            if cut >= 0:
                text = text[:cut]
            rel = _relative(os.path.abspath(path), root_str)
            for specifier, line, via in module_specifiers(text):
                imported = _package_of(specifier)
                if imported not in candidates:
                    continue
                found = UndeclaredImport(importer, imported, rel, line, via)
                old = first.get(imported)
                if old is None or (found.file, found.line) < (old.file, old.line):
                    first[imported] = found
        findings.extend(first[k] for k in sorted(first))
    return sorted(findings, key=lambda f: (f.importer, f.imported))
