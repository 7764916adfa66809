"""Cold build of a generated TypeScript workspace: package-builder vs turbo, same machine, same run.

Both run build (tsc), test (vitest) and lint (eslint) for every package at concurrency 4, from a
clean tree (no dist/, no coverage/, turbo's cache bypassed with --force). package-builder also asks
vitest for coverage and checks it, and records everything in Dagster; turbo does neither.
Usage: .venv/bin/python benchmarks/build_vs_turbo.py [--packages 88] [--concurrency 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLCHAIN = REPO / "toolchain"
sys.path.insert(0, str(REPO))

from package_builder_dagster.examples import generate, layered_specs  # noqa: E402

TURBO_JSON = {
    "$schema": "https://turborepo.com/schema.json",
    "tasks": {
        "build": {"dependsOn": ["^build"], "outputs": ["dist/**"]},
        "test": {"dependsOn": ["build"]},
        "lint": {"dependsOn": ["^build"]},
    },
}


def clean(root: Path) -> None:
    for pattern in ("packages/*/*/dist", "packages/*/*/coverage", "production", ".turbo"):
        for path in root.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(root.parent / "pb-cache", ignore_errors=True)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    env = {**os.environ, "PATH": os.environ["PATH"] + os.pathsep + str(TOOLCHAIN / "node_modules" / ".bin"),
           "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", "CI": "true"}
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", layered_specs(args.packages), toolchain=TOOLCHAIN)
        env["PACKAGE_BUILDER_CACHE_DIR"] = str(Path(tmp) / "pb-cache")  # its artifact cache, emptied before each round
        (root / "turbo.json").write_text(json.dumps(TURBO_JSON, indent=2))
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        pb = [sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", str(args.concurrency)]
        turbo = [str(TOOLCHAIN / "node_modules" / ".bin" / "turbo"), "run", "build", "test", "lint",
                 f"--concurrency={args.concurrency}", "--force", "--output-logs=none"]
        results: dict[str, list[float]] = {"package-builder": [], "turbo": []}
        for round_no in range(args.rounds):  # alternate which goes first
            pair = (("package-builder", pb), ("turbo", turbo))
            for name, argv in (pair if round_no % 2 == 0 else pair[::-1]):
                clean(root)
                results[name].append(timed(argv, root, env))
        pb_mid, turbo_mid = statistics.median(results["package-builder"]), statistics.median(results["turbo"])
        ratios = [p / t for p, t in zip(results["package-builder"], results["turbo"], strict=True)]
        print(f"{args.packages} TypeScript packages, concurrency {args.concurrency}, {os.cpu_count()} cores, {args.rounds} alternating round(s)")
        print(f"  package-builder build: median {pb_mid:.1f} s  (all: {', '.join(f'{t:.1f}' for t in results['package-builder'])})")
        print(f"  turbo run build test lint: median {turbo_mid:.1f} s  (all: {', '.join(f'{t:.1f}' for t in results['turbo'])})")
        print(f"  ratio package-builder / turbo: median of the rounds' ratios {statistics.median(ratios):.2f} "
              f"(each round: {', '.join(f'{r:.2f}' for r in ratios)}; of the medians {pb_mid / turbo_mid:.2f})")


if __name__ == "__main__":
    main()
