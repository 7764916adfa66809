"""What a Dagster run costs by itself: the floor under a fully cached `package-builder build`.

For N packages of the generated workspace's shape (`layered_specs`), a Python process imports
Dagster, opens a new persistent instance, and materializes N assets whose bodies do nothing: one
subsettable multi-asset (the default grouping's shape) with each package's workspace dependencies
as its upstream assets, each materialization carrying small metadata. It is timed as a whole
process, three ways in turn, side by side with `python -c pass`:
  - import: `import dagster` alone;
  - dagster-sqlite: Dagster's own SQLite storage (`DagsterInstance.from_config` on a new folder);
  - wal-sqlite: this tool's WAL storage, its new files made in memory first (the embedded default
    of `package-builder build`, as `orchestration.instance.get_instance` opens it).
Also prints the run's event count. A fully cached `build` of N packages restores N artifacts and
writes the same kinds of events on top of this floor; `benchmarks/cache_vs_turbo.py` gives it.
Usage: .venv/bin/python benchmarks/dagster_floor.py [--packages 88] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r'''
import sys, time
t0 = time.perf_counter()
import dagster as dg
from package_builder_dagster.examples import layered_specs
t_import = time.perf_counter()
home, packages, storage = sys.argv[1], int(sys.argv[2]), sys.argv[3]
specs = layered_specs(packages)
if storage == "wal-sqlite":
    from pathlib import Path
    from package_builder_dagster.orchestration.instance import sqlite_yaml
    from package_builder_dagster.orchestration.sqlite_storage import create_files_in_memory
    Path(home, "dagster.yaml").write_text(sqlite_yaml(Path(home)))
    create_files_in_memory(Path(home))  # as get_instance does for a new embedded instance
else:
    from pathlib import Path
    Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
keys = {s.short: dg.AssetKey(["ex", s.short]) for s in specs}

@dg.multi_asset(specs=[dg.AssetSpec(keys[s.short], deps=[keys[d] for d in s.deps]) for s in specs], can_subset=True)
def packages_asset(context: dg.AssetExecutionContext):
    for s in specs:
        if keys[s.short] in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=keys[s.short], metadata={"restored": True, "cache_key": "0" * 32})

with dg.DagsterInstance.from_config(home) as instance:
    t_instance = time.perf_counter()
    result = dg.materialize([packages_asset], instance=instance)
    t_run = time.perf_counter()
    events = len(instance.get_records_for_run(result.run_id).records)
print(f"{t_import - t0:.3f} {t_instance - t_import:.3f} {t_run - t_instance:.3f} {events}")
'''


def whole(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=88)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"python -c pass": [], "import dagster": [], "dagster-sqlite": [], "wal-sqlite": []}
    parts: dict[str, list[str]] = {"dagster-sqlite": [], "wal-sqlite": []}
    for _ in range(args.rounds):
        times["python -c pass"].append(whole([sys.executable, "-c", "pass"])[0])
        times["import dagster"].append(whole([sys.executable, "-c", "import dagster"])[0])
        for storage in ("dagster-sqlite", "wal-sqlite"):
            with tempfile.TemporaryDirectory() as home:
                seconds, out = whole([sys.executable, "-c", CHILD, home, str(args.packages), storage])
            times[storage].append(seconds)
            parts[storage].append(out)
    print(f"{args.packages} no-op assets in one multi-asset step, a new instance each time, {args.rounds} round(s); whole processes")
    for name, values in times.items():
        line = f"  {name:<16} median {statistics.median(values):5.2f} s  (all: {', '.join(f'{v:.2f}' for v in values)})"
        if name in parts:
            imp, inst, run, events = parts[name][-1].split()
            line += f"  [last: import {imp} s, instance {inst} s, materialize {run} s, {events} events]"
        print(line)


if __name__ == "__main__":
    main()
