"""A content-addressed cache of build outputs (like Turborepo's), one concept per module (a package's
cache key, what its results depend on, is computed at discovery: `discovery.cache_keys`):

- `outputs`: which files a package's build produced;
- `artifact`: packing outputs and a record into a verifiable tarball, restoring one atomically;
- `stores`: the local store, the Turborepo-compatible remote store, and both together for a run;
- `package_cache`: lookup, restore and save as one package step sees them.

Nothing here imports Dagster; the submodules are imported where needed (the remote client's HTTP
library stays out of `build --stale`'s fast path).
"""
