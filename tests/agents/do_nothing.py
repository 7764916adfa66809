#!/usr/bin/env python3
"""An agent that reads its prompt and changes nothing (an unfixable package). Records its calls in $AGENT_CALLS."""
import os
import sys
from pathlib import Path

text = Path(sys.argv[1]).read_text() if len(sys.argv) > 1 and Path(sys.argv[1]).is_file() else ""
if os.environ.get("AGENT_CALLS"):
    with open(os.environ["AGENT_CALLS"], "a") as fh:
        fh.write(f"called {len(text)}\n")
print("looked at it; changed nothing")
