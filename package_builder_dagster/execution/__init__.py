"""Execution: running one package's commands (build, tests, checks, fixes, publishing) and scheduling many. No Dagster here."""
