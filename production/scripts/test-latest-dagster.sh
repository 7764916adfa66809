#!/usr/bin/env bash
# The default install (no extras) with the newest dagster 1.13 the registry has, in its own venv
# (.venv-latest): the extras pin dagster 1.13.27 (dagster-dg-cli, dagster-celery), the package admits
# >=1.13.27,<1.14. Runs the tests that touch Dagster's private names and real runs without extras.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
stamp="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv-latest/bin/package-builder ] || [ "$(cat .venv-latest/.stamp 2>/dev/null)" != "$stamp" ]; then
  python3 -m venv .venv-latest
  .venv-latest/bin/pip install -q --upgrade pip
  .venv-latest/bin/pip install -q -e . "pytest>=8" "pytest-timeout>=2.3"
  echo "$stamp" > .venv-latest/.stamp
fi
echo "dagster $(.venv-latest/bin/python -c 'import dagster; print(dagster.__version__)') (newest 1.13 on the registry, no extras)"
exec .venv-latest/bin/pytest -q -p no:cacheprovider "$@" \
  tests/integration/test_sqlite_storage.py tests/integration/test_graph_file.py tests/e2e/test_staleness.py tests/unit/test_hostile_input.py tests/integration/test_hostile_input.py tests/e2e/test_hostile_input.py
