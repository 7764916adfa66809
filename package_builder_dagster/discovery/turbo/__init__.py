"""turbo.json / turbo.jsonc as plain data: task definitions, the (package, task) graph, cache-key parts.

No Dagster here."""
