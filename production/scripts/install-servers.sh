#!/usr/bin/env bash
# Installs, only where missing, what the celery/postgres scale-out needs: redis-server and
# PostgreSQL from Debian, and dagster-celery + dagster-postgres (pinned to dagster 1.13.27)
# into the venv given as $1 (default .venv). Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv}"
PINS=("dagster-celery[redis]==0.29.27" dagster-postgres==0.29.27)

have_pg() { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
have_pg || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's packages start system-wide services; tests start their own servers, so stop those.
  for svc in redis-server postgresql; do $sudo service "$svc" stop >/dev/null 2>&1 || true; done
fi

# Install only when a pin or the [redis] extra's client (celery's redis broker) is missing.
if ! "$VENV/bin/python" - <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("dagster-celery") == version("dagster-postgres") == "0.29.27" and version("redis")
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
then
  "$VENV/bin/pip" install -q "${PINS[@]}"
fi
"$VENV/bin/pip" check
