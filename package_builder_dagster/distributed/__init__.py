"""Scale-out: one build across machines with Dagster's celery executor and Postgres storage.

- `celery_settings`: the one celery configuration the orchestrator and the workers share.
- `source_tree`: the run's commit as a run tag; dirty trees refused.
- `choice`: `executor_for(config)`, what definitions.py calls (celery imported only when asked for).
- `executor`: the celery executor with the run's commit, priorities and a worker watchdog.
- `working_copy`: a worker's own clone: checkout, frozen install, dependencies' outputs restored.
- `worker`: `package-builder worker`.

Everything here is used only when the config has `dagster.executor`.
"""
