"""The fix loop on a generated TypeScript workspace with injected lint, type, test and coverage
failures, repaired by a scripted agent (tests/agents/fix_code.py, one failure type per attempt).

Prints how many packages were fixed, on which attempt, and the time the loop added against a clean
build of the same workspace in the same run. Scripted agents measure the loop, not the quality of a
real coding agent.
Usage: .venv/bin/python benchmarks/fix_loop.py [--packages 88] [--concurrency 4] [--every 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLCHAIN = REPO / "toolchain"
sys.path.insert(0, str(REPO))

from package_builder_dagster.examples import PackageSpec, generate, layered_specs  # noqa: E402

CYCLE = [{"type-error"}, {"lint-error"}, {"failing-test"}, {"low-coverage"}, {"type-error", "failing-test"}]


def build(root: Path, concurrency: int, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", str(concurrency)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return time.perf_counter() - start, proc.returncode


def reports(root: Path) -> dict[str, dict]:
    found = {}
    for path in (root / "production" / "reports").glob("*/@*/*.json"):
        data = json.loads(path.read_text())
        found[data["packageName"]] = data
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--every", type=int, default=6, help="inject failures into every Nth package")
    args = ap.parse_args()
    env = {**os.environ, "PATH": os.environ["PATH"] + os.pathsep + str(TOOLCHAIN / "node_modules" / ".bin")}
    specs = layered_specs(args.packages)
    injected = [
        PackageSpec(s.short, s.category, list(s.deps), set(CYCLE[(i // args.every) % len(CYCLE)]) if i % args.every == 3 else set())
        for i, s in enumerate(specs)
    ]
    agent = [sys.executable, str(REPO / "tests" / "agents" / "fix_code.py"), "{prompt_file}", "{package_dir}", "--one-per-attempt"]
    with tempfile.TemporaryDirectory() as tmp:
        clean = generate(Path(tmp) / "clean", specs, toolchain=TOOLCHAIN)
        broken = generate(Path(tmp) / "broken", injected, toolchain=TOOLCHAIN)
        config = broken / "production" / "configs" / "build-env.json"
        config.parent.mkdir(parents=True)
        config.write_text(json.dumps({"agents": {"fix": {"command": agent}}}))
        clean_s, clean_rc = build(clean, args.concurrency, env)
        broken_s, broken_rc = build(broken, args.concurrency, env)
        found = reports(broken)

    with_failures = [s for s in injected if s.inject]
    by_attempt: Counter[int] = Counter()
    fix_ms = 0
    unfixed = []
    kinds: Counter[str] = Counter()
    for spec in with_failures:
        rep = found[f"@ex/{spec.short}"]
        attempts = rep["fixAttempts"]
        fix_ms += sum(a["fixDuration"] for a in attempts)
        fixed_on = next((a["count"] for a in attempts if a["fixed"]), None)
        kinds["+".join(sorted(spec.inject))] += 1
        if rep["status"] == "success" and fixed_on:
            by_attempt[fixed_on] += 1
        else:
            unfixed.append(f"{spec.short} ({rep['status']}: {rep.get('error')})")
    print(f"workspace: {args.packages} TypeScript packages, {len(with_failures)} with injected failures: "
          + ", ".join(f"{n}× {k}" for k, n in sorted(kinds.items())))
    print(f"clean build:    {clean_s:7.1f} s (exit {clean_rc})")
    print(f"with fix loop:  {broken_s:7.1f} s (exit {broken_rc})  → the loop added {broken_s - clean_s:.1f} s "
          f"({broken_s / clean_s:.2f}× the clean build); agent and fixer time {fix_ms / 1000:.1f} s in total")
    print(f"fixed: {sum(by_attempt.values())}/{len(with_failures)}; by attempt: "
          + ", ".join(f"attempt {k}: {v}" for k, v in sorted(by_attempt.items())))
    for line in unfixed:
        print(f"not fixed: {line}")
    print("(scripted agents measure the loop, not the quality of a real coding agent)")


if __name__ == "__main__":
    main()
