"""Incremental builds: package-builder `build --stale` vs turbo's cache, same workspace, same run.

After one full build by each tool, times: (1) nothing changed (`build --stale` starts no run; turbo
replays every task from its cache, "FULL TURBO"), (2) one leaf package's source changed (each tool
rebuilds that package only). turbo caches and replays outputs; package-builder skips unchanged
packages by their code versions and keeps the earlier materializations.
Usage: .venv/bin/python benchmarks/incremental_vs_turbo.py [--packages 88] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from build_vs_turbo import TOOLCHAIN, TURBO_JSON, timed  # noqa: E402

from package_builder_dagster.examples import generate, layered_specs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    env = {**os.environ, "PATH": os.environ["PATH"] + os.pathsep + str(TOOLCHAIN / "node_modules" / ".bin"),
           "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", "CI": "true"}
    git_env = {**env, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    specs = layered_specs(args.packages)
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", specs, toolchain=TOOLCHAIN)
        (root / "turbo.json").write_text(json.dumps(TURBO_JSON, indent=2))
        with open(root / ".gitignore", "a") as fh:
            fh.write(".turbo/\n")
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "initial"]):
            subprocess.run(cmd, cwd=root, check=True, env=git_env, capture_output=True)
        pb = [sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", str(args.concurrency)]
        turbo = [str(TOOLCHAIN / "node_modules" / ".bin" / "turbo"), "run", "build", "test", "lint",
                 f"--concurrency={args.concurrency}", "--output-logs=none"]
        full_pb = timed(pb, root, env)
        full_turbo = timed(turbo, root, env)
        unchanged_pb = timed([*pb, "--stale"], root, env)
        unchanged_turbo = timed(turbo, root, env)
        leaf = next(s for s in reversed(specs) if not any(s.short in o.deps for o in specs))
        src = next(root.glob(f"packages/*/{leaf.short}/src/index.ts"))
        src.write_text(src.read_text() + "\nexport const touched = 1;\n")
        leaf_pb = timed([*pb, "--stale"], root, env)
        leaf_turbo = timed(turbo, root, env)
    print(f"{args.packages} TypeScript packages, concurrency {args.concurrency}, {os.cpu_count()} cores, one round")
    print(f"  full build:        package-builder {full_pb:6.1f} s   turbo {full_turbo:6.1f} s   ratio {full_pb / full_turbo:.2f}")
    print(f"  nothing changed:   package-builder {unchanged_pb:6.1f} s   turbo {unchanged_turbo:6.1f} s   ratio {unchanged_pb / unchanged_turbo:.2f}"
          "   (build --stale vs turbo full cache hit)")
    print(f"  one leaf changed ({leaf.short}): package-builder {leaf_pb:6.1f} s   turbo {leaf_turbo:6.1f} s   ratio {leaf_pb / leaf_turbo:.2f}")


if __name__ == "__main__":
    main()
