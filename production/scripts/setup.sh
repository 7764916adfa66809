#!/usr/bin/env bash
# Installs what package-builder needs, once: a Python venv with this package and its test and
# distributed extras, and the Node toolchain (typescript, vitest, eslint, pnpm, yarn berry, turbo,
# verdaccio) in toolchain/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
stamp="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/package-builder ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$stamp" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test,distributed]"
  echo "$stamp" > .venv/.stamp
fi
lock="$(sha256sum toolchain/package-lock.json | cut -c1-16)"
if [ ! -x toolchain/node_modules/.bin/tsc ] || [ "$(cat toolchain/node_modules/.stamp 2>/dev/null)" != "$lock" ]; then
  (cd toolchain && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" > toolchain/node_modules/.stamp
fi
