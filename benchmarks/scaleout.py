"""Figures for the scale-out (docs/scale-out.md), on real servers; not a test. Prints JSON lines.

    .venv/bin/python benchmarks/scaleout.py [chain|wide]

chain: 10 trivial packages in a chain, in-process (the default) vs one celery worker: the
       per-package hand-off overhead. wide: the generated 88-package workspace on one worker
       (--concurrency 2) and on two workers (--concurrency 1 each), with each worker's peak memory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))
sys.path.insert(0, str(REPO_DIR / "tests"))

from distributed_cluster import REPO, Cluster, make_origin  # noqa: E402

from package_builder_dagster.examples import PackageSpec, layered_specs  # noqa: E402

TOOLCHAIN = REPO / "toolchain"


def run_seconds(output: str) -> float:
    """The run time the build's summary line prints."""
    found = re.search(r"summary: .* · ([0-9.]+) s · run", output)
    return float(found.group(1)) if found else float("nan")


def in_process(origin: Path, tmp: Path, concurrency: int) -> float:
    """The default: SQLite, every package in the run's process."""
    env = {"PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp / "xdg"), "PATH": __import__("os").environ["PATH"],
           "HOME": str(tmp), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(origin),
                           "--concurrency", str(concurrency), "--cache", "off"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return run_seconds(done.stdout)


class MemorySampler(threading.Thread):
    """Samples each worker's processes' RSS (main + pool) twice a second; keeps the peaks."""

    def __init__(self, workers):
        super().__init__(daemon=True)
        self.workers, self.stop_flag = workers, False
        self.peak_total = {w.name: 0 for w in workers}
        self.peak_process = {w.name: 0 for w in workers}

    @staticmethod
    def rss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.stop_flag:
            for w in self.workers:
                sizes = [self.rss_kb(p) for p in w.pids()]  # includes the package's node processes
                self.peak_total[w.name] = max(self.peak_total[w.name], sum(sizes))
                self.peak_process[w.name] = max([self.peak_process[w.name], *sizes])
            time.sleep(0.5)


def celery(origin_specs, tmp: Path, layout: list[int], concurrency: int) -> dict:
    with Cluster(tmp, TOOLCHAIN) as cluster:
        cluster.write_config(make_origin(tmp / "origin", origin_specs), concurrency)
        workers = [cluster.start_worker(f"w{i}", slots) for i, slots in enumerate(layout, 1)]
        cluster.wait_ready()
        sampler = MemorySampler(workers)
        sampler.start()
        done = cluster.build()
        sampler.stop_flag = True
        sampler.join()
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return {"run_s": run_seconds(done.stdout), "peak_worker_rss_mb": {k: round(v / 1024) for k, v in sampler.peak_total.items()},
                "peak_process_rss_mb": {k: round(v / 1024) for k, v in sampler.peak_process.items()}}


def main(which: str) -> None:
    if which == "chain":
        specs = [PackageSpec(f"c{i:02d}", "core", [f"c{i - 1:02d}"] if i else []) for i in range(10)]
        base = Path(tempfile.mkdtemp(prefix="measure-chain-"))
        inproc = in_process(make_origin(base / "inproc", specs), base, 1)
        print(json.dumps({"figure": "chain10 in-process", "run_s": inproc}), flush=True)
        result = celery(specs, base / "celery", [1], 1)
        print(json.dumps({"figure": "chain10 celery 1 worker", **result,
                          "handoff_per_package_s": round((result["run_s"] - inproc) / 10, 2)}), flush=True)
    else:
        specs = layered_specs(88)
        base = Path(tempfile.mkdtemp(prefix="measure-wide-"))
        print(json.dumps({"figure": "88 in-process, 2 at a time", "run_s": in_process(make_origin(base / "inproc", specs), base, 2)}), flush=True)
        print(json.dumps({"figure": "88 celery, 1 worker x 2", **celery(specs, base / "one", [2], 2)}), flush=True)
        print(json.dumps({"figure": "88 celery, 2 workers x 1", **celery(specs, base / "two", [1, 1], 2)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "chain")
