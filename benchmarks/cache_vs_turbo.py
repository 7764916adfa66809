"""Artifact cache: package-builder vs turbo, both against one real turborepo-remote-cache, same run.

One generated TypeScript workspace (committed), one turborepo-remote-cache server (fresh storage and
token), warmed by one full build of each tool. Then, for each tool in its own `git clone` (empty
local caches, no dist/, node_modules linked as an install would):
  1. fresh clone, warm remote cache: package-builder `build` (fresh $XDG_CACHE_HOME) restores every
     package from the remote (the run's Dagster event count is printed); turbo replays every task
     from the remote. One fresh clone pair per
     round (--clone-rounds).
  2. every dist/ deleted: package-builder `build --stale` restores from its local store; turbo
     replays from its local cache (.turbo/cache). dist/ deleted again before each round.
  3. nothing changed: package-builder `build --stale` vs turbo's full cache hit.
Both tools get the same server (package-builder through `--config`, turbo through --api/--token/--team)
and check their local cache first. Ratios are package-builder / turbo.
Usage: .venv/bin/python benchmarks/cache_vs_turbo.py [--packages 88] [--concurrency 4] [--rounds 3] [--clone-rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

from build_vs_turbo import TOOLCHAIN, TURBO_JSON  # noqa: E402
from cacheserver import CacheServer, server_entry  # noqa: E402

from package_builder_dagster.examples import generate, layered_specs, link_node_modules  # noqa: E402

SCOPE = "ex"  # generate()'s default scope
TEAM = "bench"
TOKEN_ENV = "BENCH_TURBO_TOKEN"
PB_HITS = re.compile(r"cache: (\d+) hit\(s\) \((\d+) local, (\d+) remote\)")
TURBO_CACHED = re.compile(r"Cached:\s+(\d+) cached, (\d+) total")


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run `argv`; (seconds, stdout). Exits with the tail of its output when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}) in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def dagster_event_count(root: Path) -> int:
    """How many events the latest run in the workspace's Dagster instance wrote."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(root / "production" / ".dagster")) as instance:
        return len(instance.get_records_for_run(instance.get_runs(limit=1)[0].run_id).records)


def dists(root: Path) -> tuple[int, int]:
    """(packages with dist/index.js, packages)."""
    packages = [p.parent for p in root.glob("packages/*/*/package.json")]
    return sum((p / "dist" / "index.js").is_file() for p in packages), len(packages)


def check_dists(root: Path, what: str) -> None:
    have, total = dists(root)
    if have != total:
        raise SystemExit(f"{what}: only {have} of {total} packages have dist/index.js in {root}")


def delete_dists(root: Path) -> None:
    for dist in root.glob("packages/*/*/dist"):
        shutil.rmtree(dist)


def pb_hits(stdout: str) -> str:
    m = PB_HITS.search(stdout)
    if m:
        return f"{m.group(1)} restored ({m.group(2)} local, {m.group(3)} remote)"
    if "everything is up to date" in stdout:
        return "up to date, no run"
    return "no cache line"


def turbo_hits(stdout: str) -> str:
    m = TURBO_CACHED.search(stdout)
    text = f"{m.group(1)}/{m.group(2)} tasks cached" if m else "no summary"
    return text + (", FULL TURBO" if "FULL TURBO" in stdout else "")


def artifact_files(storage: Path) -> set[Path]:
    return {p for p in storage.rglob("*") if p.is_file()}


def fmt(label: str, pb: list[float], turbo: list[float], pb_note: str, turbo_note: str, goal: float | None) -> str:
    pb_med, turbo_med = statistics.median(pb), statistics.median(turbo)
    ratio = pb_med / turbo_med
    goal_text = f"   goal <= {goal:.1f}: {'met' if ratio <= goal else 'NOT met'}" if goal is not None else ""
    lines = [
        f"  {label}",
        f"    package-builder {pb_med:6.2f} s median, {min(pb):6.2f} s min  (all: {', '.join(f'{t:.2f}' for t in pb)})  [{pb_note}]",
        f"    turbo           {turbo_med:6.2f} s median, {min(turbo):6.2f} s min  (all: {', '.join(f'{t:.2f}' for t in turbo)})  [{turbo_note}]",
        f"    ratio package-builder / turbo: {ratio:.2f} (median), {min(pb) / min(turbo):.2f} (min){goal_text}",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of scenarios 2 and 3 (median reported)")
    ap.add_argument("--clone-rounds", type=int, default=2, help="fresh clone pairs for scenario 1")
    args = ap.parse_args()
    if not server_entry(TOOLCHAIN).exists():
        raise SystemExit(f"turborepo-remote-cache is not installed in {TOOLCHAIN} (npm ci there)")
    env = {**os.environ, "PATH": os.environ["PATH"] + os.pathsep + str(TOOLCHAIN / "node_modules" / ".bin"),
           "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", "CI": "true", "COLUMNS": "200"}
    env = {k: v for k, v in env.items() if not k.startswith("TURBO_") or k == "TURBO_TELEMETRY_DISABLED"}
    git_env = {**env, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    specs = layered_specs(args.packages)
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = generate(tmp / "ws", specs, toolchain=TOOLCHAIN)
        (root / "turbo.json").write_text(json.dumps(TURBO_JSON, indent=2))
        with open(root / ".gitignore", "a") as fh:
            fh.write(".turbo/\n")
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "initial"]):
            subprocess.run(cmd, cwd=root, check=True, env=git_env, capture_output=True)
        storage = tmp / "remote" / "storage"
        with CacheServer(TOOLCHAIN, storage, token) as server:
            config = tmp / "pb-config.json"  # outside every clone, as a CI secret-free config would be
            config.write_text(json.dumps({"cache": {"remote": {"url": server.url, "team": TEAM, "tokenEnv": TOKEN_ENV}}}))

            def pb(workspace: Path, *flags: str) -> list[str]:
                return [sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(workspace),
                        "--config", str(config), "--concurrency", str(args.concurrency), *flags]

            def pb_env(cache_home: Path) -> dict[str, str]:
                return {**env, "XDG_CACHE_HOME": str(cache_home), TOKEN_ENV: token}

            turbo = [str(TOOLCHAIN / "node_modules" / ".bin" / "turbo"), "run", "build", "test", "lint",
                     f"--concurrency={args.concurrency}", "--output-logs=none",
                     f"--api={server.url}", f"--token={token}", f"--team={TEAM}"]

            # Warm the remote: one full build by each tool in the original workspace.
            warm_pb, out = run(pb(root), root, pb_env(tmp / "cache-warm"))
            check_dists(root, "package-builder warm-up")
            after_pb = artifact_files(storage)
            warm_turbo, out = run(turbo, root, env)
            after_turbo = artifact_files(storage)
            turbo_uploads = len(after_turbo - after_pb)
            print(f"warm-up: package-builder full build {warm_pb:.1f} s ({len(after_pb)} artifact(s) on the server), "
                  f"turbo full run {warm_turbo:.1f} s ({turbo_uploads} artifact(s) uploaded; {turbo_hits(out)})", flush=True)
            if not after_pb or not turbo_uploads:
                raise SystemExit("a tool wrote nothing to the remote cache: remote caching is not on")

            # 1. Fresh clones, warm remote.
            fresh: dict[str, list[float]] = {"pb": [], "turbo": []}
            notes: dict[str, list[str]] = {"pb": [], "turbo": []}
            for i in range(args.clone_rounds):
                clones = {}
                for tool in ("pb", "turbo"):
                    clone = tmp / f"clone-{tool}-{i}"
                    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, env=git_env)
                    link_node_modules(clone, TOOLCHAIN, SCOPE, specs)
                    if dists(clone)[0] or (clone / "production").exists() or (clone / ".turbo").exists():
                        raise SystemExit(f"{clone} is not a clean clone")
                    clones[tool] = clone
                seconds, out = run(pb(clones["pb"]), clones["pb"], pb_env(tmp / f"cache-pb-{i}"))
                check_dists(clones["pb"], "package-builder, fresh clone")
                fresh["pb"].append(seconds)
                notes["pb"].append(f"{pb_hits(out)}, {dagster_event_count(clones['pb'])} Dagster events")
                seconds, out = run(turbo, clones["turbo"], env)
                check_dists(clones["turbo"], "turbo, fresh clone")
                fresh["turbo"].append(seconds)
                fetched = len(list((clones["turbo"] / ".turbo" / "cache").glob("*.tar.zst")))
                notes["turbo"].append(f"{turbo_hits(out)}, {fetched} artifact(s) fetched from the remote")
                print(f"  fresh clone round {i + 1}: package-builder {fresh['pb'][-1]:.2f} s [{notes['pb'][-1]}], "
                      f"turbo {fresh['turbo'][-1]:.2f} s [{notes['turbo'][-1]}]", flush=True)
            pb_clone, turbo_clone = clones["pb"], clones["turbo"]
            pb_home = tmp / f"cache-pb-{args.clone_rounds - 1}"

            # 2. Every dist/ deleted: local stores warm.
            deleted: dict[str, list[float]] = {"pb": [], "turbo": []}
            deleted_notes: dict[str, str] = {}
            for _ in range(args.rounds):
                delete_dists(pb_clone)
                delete_dists(turbo_clone)
                seconds, out = run(pb(pb_clone, "--stale"), pb_clone, pb_env(pb_home))
                check_dists(pb_clone, "package-builder --stale after deleting dist/")
                deleted["pb"].append(seconds)
                deleted_notes["pb"] = pb_hits(out)
                seconds, out = run(turbo, turbo_clone, env)
                check_dists(turbo_clone, "turbo after deleting dist/")
                deleted["turbo"].append(seconds)
                deleted_notes["turbo"] = turbo_hits(out)

            # 3. Nothing changed.
            unchanged: dict[str, list[float]] = {"pb": [], "turbo": []}
            unchanged_notes: dict[str, str] = {}
            for _ in range(args.rounds):
                seconds, out = run(pb(pb_clone, "--stale"), pb_clone, pb_env(pb_home))
                unchanged["pb"].append(seconds)
                unchanged_notes["pb"] = pb_hits(out)
                seconds, out = run(turbo, turbo_clone, env)
                unchanged["turbo"].append(seconds)
                unchanged_notes["turbo"] = turbo_hits(out)
            check_dists(pb_clone, "package-builder, unchanged")
            check_dists(turbo_clone, "turbo, unchanged")

    print(f"{args.packages} TypeScript packages, concurrency {args.concurrency}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}; one turborepo-remote-cache on 127.0.0.1; ratios are package-builder / turbo")
    print(fmt(f"1. fresh clone, warm remote cache ({args.clone_rounds} fresh clone pair(s))", fresh["pb"], fresh["turbo"],
              "; ".join(notes["pb"]), "; ".join(notes["turbo"]), 3.0))  # issue 22: fully cached fresh clone <= 3x turbo
    print(fmt(f"2. every dist/ deleted: build --stale vs turbo's local cache ({args.rounds} round(s))", deleted["pb"], deleted["turbo"],
              deleted_notes["pb"], deleted_notes["turbo"], None))
    print(fmt(f"3. nothing changed: build --stale vs turbo's full cache hit ({args.rounds} round(s))", unchanged["pb"], unchanged["turbo"],
              unchanged_notes["pb"], unchanged_notes["turbo"], 1.0))


if __name__ == "__main__":
    main()
