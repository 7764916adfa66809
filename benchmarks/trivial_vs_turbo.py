"""Orchestration cost alone: package-builder vs turbo on packages whose build does next to nothing.

A generated workspace (committed to git) of N packages over the seed's layers, each with one script,
a `build` that is a `node -e` writing dist/index.js (no test, no lint). Whole processes are timed
(wall time of the command), the two tools alternating across rounds:
  1. cold: `package-builder build --cache off` on a fresh Dagster instance (production/ removed)
     vs `turbo run build` with its cache emptied (.turbo/ and node_modules/.cache/turbo removed);
     dist/ is removed before each.
  2. unchanged, right after that tool's full build: `package-builder build --stale` vs
     `turbo run build` with a full cache hit.
Also prints how many Dagster events package-builder's cold run wrote, by type (LOG for plain log
lines), and the sizes of the SQLite files under production/.dagster/history.
Ratios are package-builder / turbo.
Usage: .venv/bin/python benchmarks/trivial_vs_turbo.py [--packages 1000] [--concurrency 4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from build_vs_turbo import TOOLCHAIN, TURBO_JSON  # noqa: E402
from cache_vs_turbo import check_dists, delete_dists, fmt, pb_hits, run, turbo_hits  # noqa: E402

from package_builder_dagster.examples import generate, layered_specs  # noqa: E402

BUILD = ("node -e \"const fs = require('fs'); fs.mkdirSync('dist', {recursive: true}); "
         "fs.writeFileSync('dist/index.js', 'module.exports = 1;')\"")
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


def workspace(root: Path, count: int, env: dict[str, str]) -> Path:
    """`count` trivial packages whose only script is BUILD, with turbo.json, committed."""
    root = generate(root, layered_specs(count), kind="trivial")  # root package.json has packageManager (turbo 2 needs it)
    for manifest_path in root.glob("packages/*/*/package.json"):
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"] = {"build": BUILD}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    (root / "turbo.json").write_text(json.dumps(TURBO_JSON, indent=2))
    with open(root / ".gitignore", "a") as fh:
        fh.write(".turbo/\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "initial"]):
        subprocess.run(cmd, cwd=root, check=True, env={**env, **GIT_IDENTITY}, capture_output=True)
    return root


def dagster_events(root: Path) -> tuple[int, Counter[str]]:
    """(events, count by type) of the latest run in the workspace's Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(root / "production" / ".dagster")) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        records = instance.get_records_for_run(run_id).records
    types = Counter(r.event_log_entry.dagster_event.event_type_value if r.event_log_entry.dagster_event else "LOG"
                    for r in records)
    return len(records), types


def sqlite_sizes(root: Path) -> dict[str, int]:
    history = root / "production" / ".dagster" / "history"
    return {str(p.relative_to(history)): p.stat().st_size for p in sorted(history.rglob("*")) if p.is_file()}


def pb_round(root: Path, pb: list[str], env: dict[str, str]) -> tuple[float, float, str, dict]:
    """Cold then unchanged; (cold s, unchanged s, unchanged note, what the cold run wrote to Dagster)."""
    shutil.rmtree(root / "production", ignore_errors=True)
    delete_dists(root)
    cold, _ = run([*pb, "--cache", "off"], root, env)
    check_dists(root, "package-builder, cold")
    events, types = dagster_events(root)
    written = {"events": events, "types": types, "sizes": sqlite_sizes(root)}
    unchanged, out = run([*pb, "--stale"], root, env)
    check_dists(root, "package-builder, unchanged")
    return cold, unchanged, pb_hits(out), written


def turbo_round(root: Path, turbo: list[str], env: dict[str, str]) -> tuple[float, float, str, str]:
    """Cold then unchanged; (cold s, unchanged s, cold note, unchanged note)."""
    for cache in (root / ".turbo", root / "node_modules" / ".cache" / "turbo"):
        shutil.rmtree(cache, ignore_errors=True)
    delete_dists(root)
    cold, cold_out = run(turbo, root, env)
    check_dists(root, "turbo, cold")
    unchanged, out = run(turbo, root, env)
    check_dists(root, "turbo, unchanged")
    return cold, unchanged, turbo_hits(cold_out), turbo_hits(out)


def report(args: argparse.Namespace, times: dict[str, list[float]], notes: dict[str, str], written: dict) -> None:
    print(f"{args.packages} trivial packages (build only), concurrency {args.concurrency}, {os.cpu_count()} cores, "
          f"{args.rounds} alternating round(s); load average {os.getloadavg()[0]:.1f}; ratios are package-builder / turbo")
    print(fmt("1. cold: build --cache off, fresh instance vs turbo run build, cache emptied",
              times["pb cold"], times["turbo cold"], "full build", notes["turbo cold"], 1.3))  # issue 22's goals
    print(fmt("2. unchanged: build --stale vs turbo run build, full cache hit",
              times["pb unchanged"], times["turbo unchanged"], notes["pb unchanged"], notes["turbo unchanged"], 2.0))
    per_package = written["events"] / args.packages
    print(f"  Dagster events written by the (last) cold run: {written['events']} ({per_package:.1f} per package)")
    for event_type, count in written["types"].most_common():
        print(f"    {event_type:<32} {count:>7}")
    total = sum(written["sizes"].values())
    print(f"  SQLite files under production/.dagster/history: {total / 1e6:.2f} MB in all")
    for name, size in written["sizes"].items():
        print(f"    {name:<40} {size / 1e6:>8.2f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    env = {**os.environ, "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", "CI": "true", "COLUMNS": "200"}
    env = {k: v for k, v in env.items() if k != "DAGSTER_HOME" and (not k.startswith("TURBO_") or k == "TURBO_TELEMETRY_DISABLED")}
    times: dict[str, list[float]] = {k: [] for k in ("pb cold", "pb unchanged", "turbo cold", "turbo unchanged")}
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp) / "ws", args.packages, env)
        env["PACKAGE_BUILDER_CACHE_DIR"] = str(Path(tmp) / "pb-cache")
        pb = [sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", str(args.concurrency)]
        turbo = [str(TOOLCHAIN / "node_modules" / ".bin" / "turbo"), "run", "build", f"--concurrency={args.concurrency}", "--output-logs=none"]
        for round_no in range(args.rounds):
            for tool in (("pb", "turbo") if round_no % 2 == 0 else ("turbo", "pb")):
                if tool == "pb":
                    cold, unchanged, notes["pb unchanged"], written = pb_round(root, pb, env)
                else:
                    cold, unchanged, notes["turbo cold"], notes["turbo unchanged"] = turbo_round(root, turbo, env)
                times[f"{tool} cold"].append(cold)
                times[f"{tool} unchanged"].append(unchanged)
                print(f"  round {round_no + 1}, {tool}: cold {cold:.2f} s, unchanged {unchanged:.2f} s", flush=True)
        report(args, times, notes, written)


if __name__ == "__main__":
    main()
