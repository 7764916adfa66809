"""Lines per module and per function of a Python package: the longest N of each, and how many exceed a limit.

A module's size is its line count; a function's (methods and nested functions included, each counted on
its own) runs from its `def` to its last line, decorators left out. Read with `ast`, nothing imported.
Usage: .venv/bin/python benchmarks/code_size.py [PACKAGE_DIR] [--top 10] [--module-limit 500] [--function-limit 80]
(PACKAGE_DIR defaults to this repository's package_builder_dagster/; pass another checkout's to compare).
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PACKAGE = Path(__file__).resolve().parent.parent / "package_builder_dagster"


@dataclass(frozen=True)
class Sized:
    name: str  # module path, or module path::qualified.function
    lines: int


def _functions(tree: ast.AST, module: str) -> list[Sized]:
    """Every function and method in `tree`, named by its qualified name."""
    found: list[Sized] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(Sized(f"{module}::{prefix}{child.name}", child.end_lineno - child.lineno + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def measure(package: Path) -> tuple[list[Sized], list[Sized]]:
    """(modules, functions) of every .py file under `package`, longest first."""
    modules: list[Sized] = []
    functions: list[Sized] = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        modules.append(Sized(rel, len(text.splitlines())))
        functions += _functions(ast.parse(text, filename=rel), rel)
    return sorted(modules, key=lambda s: (-s.lines, s.name)), sorted(functions, key=lambda s: (-s.lines, s.name))


def _table(title: str, items: list[Sized], top: int, limit: int) -> list[str]:
    over = sum(1 for item in items if item.lines > limit)
    lines = [f"{title}: {len(items)}, {over} over {limit} lines, longest {top}:"]
    lines += [f"  {item.lines:5d}  {item.name}" for item in items[:top]]
    return lines


def report(package: Path, top: int = 10, module_limit: int = 500, function_limit: int = 80) -> str:
    modules, functions = measure(package)
    total = sum(m.lines for m in modules)
    return "\n".join([f"{package}: {total} lines", *_table("modules", modules, top, module_limit),
                      *_table("functions", functions, top, function_limit)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=Path, default=DEFAULT_PACKAGE)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--module-limit", type=int, default=500)
    parser.add_argument("--function-limit", type=int, default=80)
    args = parser.parse_args()
    print(report(args.package.resolve(), args.top, args.module_limit, args.function_limit))


if __name__ == "__main__":
    main()
