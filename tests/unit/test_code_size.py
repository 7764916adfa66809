"""benchmarks/code_size.py: lines per module and per function, read with ast from a package on disk."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "code_size.py"
spec = importlib.util.spec_from_file_location("code_size", SCRIPT)
code_size = sys.modules["code_size"] = importlib.util.module_from_spec(spec)  # a dataclass needs its module registered
spec.loader.exec_module(code_size)

MODULE = '''"""A module."""
import functools


@functools.cache
def top(x):
    def inner(y):
        return y

    return inner(x)


class Thing:
    def method(self):
        a = 1
        b = 2
        return a + b

    async def wait(self):
        return None
'''


def test_modules_and_functions_longest_first_with_qualified_names(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "big.py").write_text(MODULE)
    (package / "small.py").write_text("def f():\n    return 1\n")
    modules, functions = code_size.measure(package)
    assert [(m.name, m.lines) for m in modules] == [("pkg/sub/big.py", 20), ("pkg/small.py", 2), ("pkg/__init__.py", 0)]
    assert [(f.name, f.lines) for f in functions] == [
        ("pkg/sub/big.py::top", 5), ("pkg/sub/big.py::Thing.method", 4), ("pkg/small.py::f", 2),
        ("pkg/sub/big.py::Thing.wait", 2), ("pkg/sub/big.py::top.inner", 2)]  # equal lengths by name
    text = code_size.report(package, top=2, module_limit=10, function_limit=4)
    assert "modules: 3, 1 over 10 lines, longest 2:" in text and "functions: 5, 1 over 4 lines, longest 2:" in text
    assert "pkg/small.py::f" not in text and "   20  pkg/sub/big.py" in text
