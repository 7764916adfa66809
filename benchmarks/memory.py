"""Memory: peak RSS of the Python processes (not node's) of `package-builder build` on generated
workspaces of cheap `node` scripts, default grouping, concurrency 4. Samples /proc every 0.1 s:
each Python process's own high-water mark (VmHWM) and the largest sum of the Python processes' RSS
at one moment. Linux only.
Usage: .venv/bin/python benchmarks/memory.py [--sizes 88,1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.overhead import workspace  # noqa: E402

MIB = 1024 * 1024


def _tree(root_pid: int) -> list[int]:
    """root_pid and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _kib(value: str | None) -> int:
    return int(value.split()[0]) * 1024 if value else 0


def measure(root: Path) -> tuple[float, int, int]:
    """(wall seconds, largest single Python process peak, largest sum of Python RSS at one moment)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "package_builder_dagster.cli", "build", "--workspace", str(root), "--concurrency", "4"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks: dict[int, int] = {}
    top_sum = 0
    while proc.poll() is None:
        total = 0
        for pid in _tree(proc.pid):
            st = _status(pid)
            if "python" not in st.get("Name", "").lower():
                continue
            peaks[pid] = max(peaks.get(pid, 0), _kib(st.get("VmHWM")))
            total += _kib(st.get("VmRSS"))
        top_sum = max(top_sum, total)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode})")
    return wall, max(peaks.values(), default=0), top_sum


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="88,1000")
    args = ap.parse_args()
    print("memory: trivial node scripts (no sleep), default grouping, concurrency 4, cache off")
    print(f"{'packages':>8} {'wall s':>8} {'peak python process MiB':>24} {'peak sum of python RSS MiB':>27}")
    for size in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            root, _ = workspace(Path(tmp) / "ws", size, 0.0, "all")
            wall, single, total = measure(root)
            print(f"{size:>8} {wall:>8.1f} {single / MIB:>24.0f} {total / MIB:>27.0f}", flush=True)


if __name__ == "__main__":
    main()
