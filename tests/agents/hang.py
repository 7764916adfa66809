#!/usr/bin/env python3
"""An agent that hangs (and starts a child that hangs too); writes its pids to the file given."""
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
with open(sys.argv[1], "w") as fh:
    fh.write(f"{child.pid}\n")
time.sleep(3600)
