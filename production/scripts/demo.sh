#!/usr/bin/env bash
# The main job end to end on the embedded default: writes an example TypeScript monorepo
# (production/example-monorepo, a git repository, kept between runs), starts a local npm registry
# (Verdaccio on 127.0.0.1, storage in production/.verdaccio), then builds, tests, quality-checks
# and publishes every package as Dagster assets on a persistent local instance (SQLite, in the
# example's production/.dagster), and stops the registry. A second run publishes nothing new
# (every package is already-published). Extra arguments go to `package-builder build`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/production/scripts/setup.sh"
cd "$ROOT"
EXAMPLE="$ROOT/production/example-monorepo"
if [ ! -f "$EXAMPLE/package.json" ]; then  # --force: the folder may hold what an earlier demo left (production/)
  .venv/bin/package-builder example "$EXAMPLE" --toolchain toolchain --force
fi
export PATH="$PATH:$ROOT/toolchain/node_modules/.bin"
exec .venv/bin/python -m package_builder_dagster.local_registry "$ROOT/production/.verdaccio" -- \
  .venv/bin/package-builder build --workspace "$EXAMPLE" \
  --config production/configs/example-build-env.json \
  --master-plan production/master-plans/example-suite.md --suite example-suite --publish "$@"
