"""Time to load the Dagster definitions for generated workspaces (88 and 1,000 packages).

Prints, per size: discovery + Definitions + asset graph in-process (median of 3), and the wall time
of a fresh `python -c` that imports and loads the definitions the way `dagster dev` does.
Usage: .venv/bin/python benchmarks/definitions_load.py [SIZES...]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

from package_builder_dagster.discovery.config import load_config  # noqa: E402
from package_builder_dagster.examples import generate, layered_specs  # noqa: E402
from package_builder_dagster.orchestration.definitions import build_definitions  # noqa: E402


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = generate(Path(tmp) / f"ws{size}", layered_specs(size), kind="trivial")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                defs = build_definitions(load_config(workspace=root))
                defs.resolve_asset_graph()
                defs.resolve_job_def("build_packages")
                times.append(time.perf_counter() - start)
            env = {**os.environ, "PACKAGE_BUILDER_WORKSPACE": str(root)}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import warnings; warnings.filterwarnings('ignore');"
                            "import package_builder_dagster.orchestration.definitions as d; d.defs.resolve_asset_graph()"],
                           env=env, check=True)
            cold = time.perf_counter() - start
            print(f"{size:>5} packages: load definitions in-process {statistics.median(times):.2f} s (median of 3); "
                  f"fresh process incl. imports {cold:.2f} s")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [88, 1000])
