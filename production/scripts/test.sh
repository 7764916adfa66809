#!/usr/bin/env bash
# Runs the whole test suite (installs what it needs first: the venv, the Node toolchain, Redis and
# PostgreSQL, and Debian's Chromium for the UI tests), so a fresh machine reports 0 skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/production/scripts/setup.sh"
bash "$ROOT/production/scripts/install-servers.sh" "$ROOT/.venv"   # redis-server and PostgreSQL: the scale-out tests
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; the UI test will be skipped" >&2
fi
cd "$ROOT"
status=0
.venv/bin/pytest -q "$@" || status=$?
bash "$ROOT/production/scripts/test-latest-dagster.sh" || status=$?   # the default install on the newest dagster 1.13
exit "$status"
