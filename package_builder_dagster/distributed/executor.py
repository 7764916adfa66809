"""The celery executor of a distributed build: dagster-celery's, plus three things it lacks.

1. The run's commit: the run gets the `package-builder/commit` tag (from the orchestrator's clean
   tree) unless it has one, so every worker checks out the same commit.
2. Priority: a step's `dagster-celery/priority`, else its `dagster/priority` (higher runs first), is
   ranked among the run's steps into Redis' ten levels, where a LOWER number is served first.
3. A watchdog: when no worker answers a ping for `workerLostTimeoutSeconds`, every waiting step
   fails with a message saying so, and the run ends (stock dagster-celery waits forever).
4. A shorter poll: dagster-celery looks at its tasks once a second (`TICK_SECONDS`), so each package
   of a chain waited up to a second after its dependency ended. This executor polls every
   POLL_SECONDS, longer when many steps wait (each look is a Redis read per waiting step:
   `poll_seconds`), and puts dagster-celery's value back when the run's steps are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from dagster_celery import core_execution_loop
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CeleryExecutor, _submit_task
from dagster_celery.tags import DAGSTER_CELERY_STEP_PRIORITY_TAG

from package_builder_dagster.discovery.config import BuildConfig
from package_builder_dagster.distributed import celery_settings
from package_builder_dagster.distributed.source_tree import COMMIT_TAG, run_tags
from package_builder_dagster.errors import DistributedRunRefused, WorkersLost
from package_builder_dagster.orchestration.dagster_private import PRIORITY_TAG, RetryMode, get_retries_config

PING_EVERY_SECONDS = 5.0
POLL_SECONDS = 0.1
POLL_SECONDS_PER_WAITING_STEP = 0.001  # ~0.1 ms a Redis read: polling stays under a tenth of a core
REDIS_LEVELS = 10  # priority_steps 0..9 (celery_settings)


def poll_seconds(waiting: int) -> float:
    """How long the executor sleeps between looks at its tasks when `waiting` steps are out."""
    return min(1.0, max(POLL_SECONDS, waiting * POLL_SECONDS_PER_WAITING_STEP))




def step_priority(tags: dict[str, str]) -> int:
    """A step's priority in Dagster's sense (higher first): dagster-celery/priority, else dagster/priority, else 0."""
    for tag in (DAGSTER_CELERY_STEP_PRIORITY_TAG, PRIORITY_TAG):
        try:
            return int(tags[tag])
        except (KeyError, ValueError):
            continue
    return 0


def redis_priorities(priorities: dict[str, int]) -> dict[str, int]:
    """Step key -> Redis priority (0 served first): distinct values ranked, spread over the ten levels."""
    levels = sorted(set(priorities.values()))
    if len(levels) < 2:
        return {key: REDIS_LEVELS // 2 for key in priorities}
    rank = {value: round((REDIS_LEVELS - 1) * i / (len(levels) - 1)) for i, value in enumerate(levels)}
    return {key: REDIS_LEVELS - 1 - rank[value] for key, value in priorities.items()}


class Watchdog:
    """Pings the workers (at most every PING_EVERY_SECONDS) and says whether one answered lately."""

    def __init__(self, app: Any, lost_after: float):
        self.app, self.lost_after = app, lost_after
        self.last_seen = self.checked = time.monotonic()

    def alive(self) -> bool:
        now = time.monotonic()
        if now - self.checked >= min(PING_EVERY_SECONDS, self.lost_after / 2):
            self.checked = now
            try:
                if self.app.control.ping(timeout=1.0):
                    self.last_seen = time.monotonic()
            except Exception:  # noqa: BLE001 - a broker that cannot be reached counts as no worker
                pass
        return now - self.last_seen < self.lost_after


class GuardedResult:
    """A celery AsyncResult that turns ready, with WorkersLost, once the watchdog gives up."""

    def __init__(self, result: Any, watchdog: Watchdog, step_key: str, on_done: Callable[[str], None] = lambda _key: None):
        self.result, self.watchdog, self.step_key, self.on_done = result, watchdog, step_key, on_done

    def ready(self) -> bool:
        done = self.result.ready() or not self.watchdog.alive()
        if done:
            self.on_done(self.step_key)
        return done

    def get(self) -> Any:
        if self.result.ready():
            return self.result.get()
        self.result.revoke()  # a worker that comes back later must not run it behind the failed run
        raise WorkersLost(f"step {self.step_key}: no celery worker answered a ping for {self.watchdog.lost_after:.0f} s: "
                          "every worker is gone (or the broker cannot be reached); start `package-builder worker` "
                          "and run the build again")

    def revoke(self) -> None:
        self.result.revoke()


class PackageCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor with the run's commit, ranked priorities and a worker watchdog."""

    def __init__(self, config: BuildConfig, retries: RetryMode):
        super().__init__(retries=retries, broker=celery_settings.broker_url(config),
                         backend=celery_settings.backend_url(config), config_source=celery_settings.config_source(config))
        self.config = config

    def _tag_commit(self, plan_context: Any) -> None:
        run = plan_context.dagster_run
        if COMMIT_TAG in run.tags:
            return
        try:
            tags = run_tags(self.config, warn=plan_context.log.warning)
        except Exception as exc:  # noqa: BLE001 - UsageError: a dirty tree, no git
            raise DistributedRunRefused(str(exc)) from None
        plan_context.instance.add_run_tags(run.run_id, tags)
        plan_context.log.info(f"workers build commit {tags[COMMIT_TAG]}")

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        self._tag_commit(plan_context)
        steps = [execution_plan.get_step_by_key(k) for k in execution_plan.step_keys_to_execute]
        ranked = redis_priorities({s.key: step_priority(s.tags) for s in steps})
        watchdogs: dict[int, Watchdog] = {}
        lost_after = self.config.dagster.executor.workerLostTimeoutSeconds  # type: ignore[union-attr]

        waiting: set[str] = set()

        def count(key: str, out: bool) -> None:
            (waiting.add if out else waiting.discard)(key)
            core_execution_loop.TICK_SECONDS = poll_seconds(len(waiting))

        def submit(app: Any, context: Any, step: Any, queue: str, _priority: int, known_state: Any) -> GuardedResult:
            dog = watchdogs.setdefault(id(app), Watchdog(app, lost_after))
            result = _submit_task(app, context, step, queue, ranked.get(step.key, REDIS_LEVELS // 2), known_state)
            count(step.key, True)
            return GuardedResult(result, dog, step.key, on_done=lambda key: count(key, False))

        dagster_celery_tick = core_execution_loop.TICK_SECONDS  # a module constant the loop reads on each pass
        core_execution_loop.TICK_SECONDS = POLL_SECONDS
        try:
            yield from core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)
        finally:
            core_execution_loop.TICK_SECONDS = dagster_celery_tick


def celery_executor_for(config: BuildConfig) -> dg.ExecutorDefinition:
    """The executor of a config with `dagster.executor`. Broker and backend URLs are read (from the
    environment when the config names variables) when the run starts, never put in run config."""
    @dg.executor(name="package_builder_celery", config_schema={"retries": get_retries_config()},
                 requirements=dg.multiple_process_executor_requirements())
    def package_builder_celery(init_context: Any) -> PackageCeleryExecutor:
        """Each package a celery task on `package-builder worker` processes (docs/scale-out.md)."""
        return PackageCeleryExecutor(config, RetryMode.from_config(init_context.executor_config["retries"]))

    return package_builder_celery
