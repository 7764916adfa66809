#!/usr/bin/env python3
"""A misbehaving agent: edits a file of another package and creates a file at the workspace root.

usage: edit_outside.py WORKSPACE OTHER_FILE [--also-fix PACKAGE_DIR]  (--also-fix: also repairs its
own package's injected build failure, as a real fix would)
"""
import sys
from pathlib import Path

workspace, other = Path(sys.argv[1]), Path(sys.argv[2])
other.write_text(other.read_text() + "\n// edited by an agent that should not have\n")
(workspace / "AGENT_WAS_HERE.txt").write_text("outside\n")
if "--also-fix" in sys.argv:
    manifest = Path(sys.argv[sys.argv.index("--also-fix") + 1]) / "package.json"
    manifest.write_text(manifest.read_text().replace(" build fail ", " build ok "))
print("edited outside my package")
