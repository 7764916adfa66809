#!/usr/bin/env python3
"""A misbehaving agent: edits a file of another package and creates a file at the workspace root."""
import sys
from pathlib import Path

workspace, other = Path(sys.argv[1]), Path(sys.argv[2])
other.write_text(other.read_text() + "\n// edited by an agent that should not have\n")
(workspace / "AGENT_WAS_HERE.txt").write_text("outside\n")
print("edited outside my package")
