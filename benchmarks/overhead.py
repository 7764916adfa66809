"""Overhead per package: generated workspaces whose build and test scripts each sleep 1 s, at concurrency 4,
in both groupings. Prints (wall − lower bound) / N side by side, where the lower bound is
max(longest chain of sleeps, total sleep / slots) and the wall is the whole `package-builder build`
process (Python start, definitions, the Dagster run, reports); the run's own figure (Dagster run
start to end, from the suite summary) is printed next to it.
Usage: .venv/bin/python benchmarks/overhead.py [--sizes 88,500] [--groupings all,per-package] [--sleep 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from package_builder_dagster.examples import generate, layered_specs  # noqa: E402


def workspace(root: Path, count: int, sleep_s: float, grouping: str) -> tuple[Path, float]:
    """A trivial workspace whose build and test each sleep `sleep_s`; (root, lower bound at 4 slots)."""
    specs = layered_specs(count)
    for s in specs:
        s.sleep_ms = int(sleep_s * 1000)
    root = generate(root, specs, kind="trivial")
    for manifest_path in root.glob("packages/*/*/package.json"):
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"]["test"] = manifest["scripts"]["test"].replace("test ok 0", f"test ok {int(sleep_s * 1000)}")
        manifest_path.write_text(json.dumps(manifest, indent=2))
    (root / "production" / "configs").mkdir(parents=True, exist_ok=True)
    config = {"dagster": {"grouping": grouping}, "cache": {"mode": "off"}}
    (root / "production" / "configs" / "build-env.json").write_text(json.dumps(config))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    chain: dict[str, float] = {}
    for s in specs:
        chain[s.short] = sleep_s + max((chain[d] for d in s.deps), default=0.0)
    return root, max(max(chain.values()) + sleep_s, 2 * sleep_s * count / 4)


def run(root: Path) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", "4"],
                          cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads(next((root / "production" / "reports").glob("*/suite-summary.json")).read_text())
    return wall, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="88,500")
    ap.add_argument("--groupings", default="all,per-package")
    ap.add_argument("--sleep", type=float, default=1.0)
    args = ap.parse_args()
    print(f"overhead: build and test sleep {args.sleep:g} s each, concurrency 4, {os.cpu_count()} cores, cache off")
    print(f"{'packages':>8} {'grouping':>12} {'lower bound s':>13} {'wall s':>8} {'(wall-lb)/N s':>14} "
          f"{'run wall s':>10} {'(run-lb)/N s':>13} {'summary overhead/pkg':>20}")
    for size in [int(x) for x in args.sizes.split(",")]:
        for grouping in args.groupings.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                root, bound = workspace(Path(tmp) / "ws", size, args.sleep, grouping)
                wall, summary = run(root)
                run_wall = summary["totalDuration"] / 1000
                print(f"{size:>8} {grouping:>12} {bound:>13.1f} {wall:>8.1f} {(wall - bound) / size:>14.3f} {run_wall:>10.1f} "
                      f"{(run_wall - bound) / size:>13.3f} {summary.get('overheadPerPackage')!s:>20}", flush=True)


if __name__ == "__main__":
    main()
