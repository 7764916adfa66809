"""Discovery: the config and the workspace as plain data (packages, edges, code versions). No Dagster here."""
