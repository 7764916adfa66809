#!/usr/bin/env python3
"""A scripted fix agent: reads the prompt file, fixes the failures it recognises by editing the
package's files, like a coding agent would (for the example monorepo's injected failures).

usage: fix_code.py PROMPT_FILE PACKAGE_DIR [--one-per-attempt]
Appends one line per call to $AGENT_CALLS when set.
"""
import os
import re
import sys
from pathlib import Path

prompt_file, package_dir = Path(sys.argv[1]), Path(sys.argv[2])
one = "--one-per-attempt" in sys.argv
prompt = prompt_file.read_text()
if os.environ.get("AGENT_CALLS"):
    with open(os.environ["AGENT_CALLS"], "a") as fh:
        fh.write(f"{package_dir.name} {prompt_file.name}\n")

failures = re.findall(r"^- \*\*(\w+)\*\*(?: `([^`]+)`)?[^:]*: (.*)$", prompt, re.M)
types = sorted({t for t, _, _ in failures})
if one:
    types = types[:1]
src = package_dir / "src" / "index.ts"
tests = package_dir / "test"
for kind in types:
    if kind == "typescript":
        src.write_text(src.read_text().replace('"not a number"', "0"))
    elif kind == "lint":
        src.write_text(re.sub(r"\n\s*const unusedValue = 42;", "", src.read_text()))
    elif kind == "test":
        m = re.search(r"expected (\d+) to be (\d+)", prompt)
        if m:
            for f in tests.glob("*.test.ts"):
                f.write_text(f.read_text().replace(f"toBe({m.group(2)})", f"toBe({m.group(1)})"))
    elif kind == "build":  # the cheap example packages fail on request: stop requesting it
        manifest = package_dir / "package.json"
        manifest.write_text(manifest.read_text().replace(" build fail ", " build ok "))
    elif kind == "coverage":  # a test that calls every exported function over a range of inputs
        names = re.findall(r"^export function (\w+)\(", src.read_text(), re.M)
        calls = "\n".join(f"    expect(() => (mod.{f} as (x: number) => unknown)(n)).not.toThrow();" for f in names)
        (tests / "exercise.test.ts").write_text(
            'import { expect, it } from "vitest";\nimport * as mod from "../src/index";\n\n'
            f'it("exercises every function", () => {{\n  for (let n = -1; n < 41; n++) {{\n{calls}\n  }}\n}});\n'
        )
print(f"fixed: {', '.join(types) or 'nothing'}")
