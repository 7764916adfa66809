#!/usr/bin/env bash
# The main job end to end on the embedded default: writes an example TypeScript monorepo
# (production/example-monorepo, kept between runs), then builds, tests and quality-checks every
# package as Dagster assets on a persistent local instance (SQLite, in the example's
# production/.dagster). Extra arguments go to `package-builder build` (e.g. --select, --concurrency).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/production/scripts/setup.sh"
cd "$ROOT"
EXAMPLE="$ROOT/production/example-monorepo"
if [ ! -f "$EXAMPLE/package.json" ]; then
  .venv/bin/package-builder example "$EXAMPLE" --toolchain toolchain
fi
export PATH="$PATH:$ROOT/toolchain/node_modules/.bin"
exec .venv/bin/package-builder build --workspace "$EXAMPLE" \
  --config production/configs/example-build-env.json \
  --master-plan production/master-plans/example-suite.md --suite example-suite "$@"
