"""The docs stay true to the repository: README.md and every page under docs/.

- every repository path or module a page names in backticks exists (`orchestration/assets.py` and
  `orchestration.run_reports.report_run` resolve under `package_builder_dagster/`; a bare `graph.py`
  anywhere in the repository); paths the repository ignores (`.gitignore`: generated at run time) are
  exempt, and so are placeholders (`<reportsDir>/...`) and the user's own files (`coverage/...`);
- every relative markdown link points to an existing file (and heading, when it has a `#fragment`);
- README.md fits in one sitting (at most 200 lines), starts with the two commands CI and people run,
  and links to every docs page; each docs page opens with a one-paragraph summary, and a page longer
  than 150 lines has a table of contents.

Plain file reading, in process: no Dagster, no subprocess.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "package_builder_dagster"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200
LONG_PAGE = 150
FIRST_COMMANDS = ("bash production/scripts/demo.sh", "bash production/scripts/test.sh")

SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
TOP_LEVEL = sorted(p.name for p in ROOT.iterdir() if p.name != ".git")
SEARCHED = ("package_builder_dagster", "tests", "benchmarks", "production", ".ci")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
PATH_TOKEN = re.compile(r"^[A-Za-z0-9_.@/-]+$")
DOTTED = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(.*)?$")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))] if DOCS.is_dir() else [README]


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def code_spans(path: Path) -> list[tuple[int, str]]:
    return [(n, m.group(2).strip()) for n, line in prose_lines(path) for m in CODE_SPAN.finditer(line)]


@lru_cache(maxsize=1)
def ignored_patterns() -> tuple[str, ...]:
    """.gitignore's patterns: what the repository generates at run time (reports, the demo's monorepo...)."""
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith(("#", "!")))


def is_ignored(rel: str) -> bool:
    rel = rel.strip("/")
    for pattern in ignored_patterns():
        anchored = pattern.strip("/")
        if "/" in pattern.rstrip("/"):  # anchored at the root: the path itself or something under it
            if rel == anchored or rel.startswith(anchored + "/") or fnmatch.fnmatch(rel, anchored):
                return True
        elif any(fnmatch.fnmatch(part, anchored) for part in rel.split("/")):
            return True
    return False


@lru_cache(maxsize=1)
def repo_file_names() -> frozenset[str]:
    names = set()
    for top in SEARCHED:
        for path in (ROOT / top).rglob("*"):
            if "node_modules" not in path.parts and "__pycache__" not in path.parts:
                names.add(path.name)
    return frozenset(names)


def path_candidates(span: str) -> list[str]:
    """The words of a code span that name a file or folder of this repository."""
    found = []
    for token in span.split():
        token = token.rstrip(",;:)").lstrip("(")
        if not PATH_TOKEN.match(token) or token in (".", "..") or "//" in token:
            continue
        first = token.split("/")[0]
        if "/" in token and (first in TOP_LEVEL or first in SUBPACKAGES):
            found.append(token)
        elif "/" not in token and token.endswith((".py", ".sh")):
            found.append(token)
    return found


def path_exists(token: str) -> bool:
    rel = token.rstrip("/")
    if "/" not in rel:  # a bare file name: somewhere in the repository's own folders
        return rel in repo_file_names() or (ROOT / rel).exists()
    if is_ignored(rel):
        return True  # generated at run time (.gitignore says so)
    return (ROOT / rel).exists() or (PACKAGE / rel).exists()


@lru_cache(maxsize=1)
def config_key_prefixes() -> frozenset[str]:
    """Dotted config keys (`cache.remote.url`...), read from the config model's source: `cache` is a
    subpackage and a config key, and `cache.env` is no module."""
    source = (PACKAGE / "discovery" / "config.py").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^    (\w+): ", source, flags=re.M))


def module_candidates(span: str) -> list[str]:
    """Dotted names of this package's modules (`orchestration.launch.execute_build(...)`)."""
    found = []
    for token in span.split():
        match = DOTTED.match(token.rstrip(",;:"))
        if not match:
            continue
        name = match.group(1)
        parts = name.split(".")
        if parts[0] == PACKAGE.name:
            parts = parts[1:]
        elif parts[0] not in SUBPACKAGES or parts[1] in config_key_prefixes():
            continue  # another library's name, or a config key such as `cache.remote.url`
        if parts:
            found.append(".".join(parts))
    return found


def module_exists(dotted: str) -> bool:
    """`a.b.c`: the longest prefix that is a module or package, then the next part defined in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), -1, -1):  # cut 0: the package's own __init__.py
        base = PACKAGE.joinpath(*parts[:cut])
        source_file = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source_file.is_file():
            rest = parts[cut:]
            if not rest:
                return True
            return re.search(rf"\b{re.escape(rest[0])}\b", source_file.read_text(encoding="utf-8")) is not None
    return False


def github_slugs(path: Path) -> set[str]:
    slugs: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1)).lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        n = slugs.get(slug, 0)
        slugs[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_named_paths_and_modules_exist(page: Path) -> None:
    missing = []
    for line, span in code_spans(page):
        missing += [f"{page_id(page)}:{line}: `{t}`" for t in path_candidates(span) if not path_exists(t)]
        missing += [f"{page_id(page)}:{line}: `{m}` (module)" for m in module_candidates(span) if not module_exists(m)]
    assert not missing, "names that are not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for line, text in prose_lines(page):
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file_part, _, fragment = target.partition("#")
            resolved = (page.parent / file_part).resolve() if file_part else page
            if not resolved.exists():
                broken.append(f"{page_id(page)}:{line}: {target} (no such file)")
            elif fragment and resolved.suffix == ".md" and fragment not in github_slugs(resolved):
                broken.append(f"{page_id(page)}:{line}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_fits_in_one_sitting() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES} (move the rest to docs/)"


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), "README.md starts with its title"
    rest = [line for line in lines[1:] if line.strip()]
    assert rest[0] == "```bash", "the first thing after the title is the ```bash block"
    assert rest[1].startswith(FIRST_COMMANDS[0] + " ") or rest[1] == FIRST_COMMANDS[0]
    assert rest[2].startswith(FIRST_COMMANDS[1] + " ") or rest[2] == FIRST_COMMANDS[1]
    assert rest[3] == "```"


def test_readme_links_every_docs_page() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for _, text in prose_lines(README) for t in LINK.findall(text)}
    unlinked = [page_id(p) for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert DOCS.is_dir() and not unlinked, f"docs pages README.md does not link: {unlinked or 'docs/ is missing'}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")) if DOCS.is_dir() else [], ids=page_id)
def test_docs_page_shape(page: Path) -> None:
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), f"{page_id(page)} starts with its title"
    body = [line for line in lines[1:] if line.strip()]
    assert body and re.match(r"^[A-Za-z`*\"(\[]", body[0]), f"{page_id(page)}: a one-paragraph summary comes right after the title"
    if len(lines) > LONG_PAGE:
        assert any(re.match(r"^#{2,3} Contents\s*$", line) for line in lines), \
            f"{page_id(page)} has {len(lines)} lines: it needs a '## Contents' table"
