"""A package's turbo tasks and the workspace's turbo settings, as the discovered graph carries them."""

from __future__ import annotations

from dataclasses import dataclass, field

from package_builder_dagster.discovery.turbo.config import TaskDefinition


@dataclass
class TurboTask:
    """One task of a package: `phase` None is a task beyond this tool's phases (`stage` says where it runs)."""

    name: str
    phase: str | None
    stage: str  # "phase": it is one of this tool's phases; "build": runs in the build task, first; "after": after the build
    after: list[str] = field(default_factory=list)  # "pkg#task" it waits for
    definition: TaskDefinition = field(default_factory=TaskDefinition)
    refs: list[tuple[str, str]] = field(default_factory=list)  # `after` as (package, scheduler task name)

    def to_json(self) -> dict[str, object]:
        return {"task": self.name, "phase": self.phase, "runs": self.stage, "dependsOn": list(self.after),
                "outputs": list(self.definition.outputs), "cache": self.definition.cache}


@dataclass
class PackageTurbo:
    """A package's tasks from turbo.json, in an order that respects their edges among themselves."""

    tasks: list[TurboTask]
    # phase → its scripts, for a phase none of whose task names turbo.json defines: they run as without it
    undefined: dict[str, list[str]] = field(default_factory=dict)

    def named(self, name: str) -> TurboTask | None:
        return next((t for t in self.tasks if t.name == name), None)

    def build_scripts(self) -> list[str]:
        """What its build task runs: the tasks its build waits for, then the build tasks."""
        return [t.name for t in self.tasks if t.stage == "build" or t.phase == "build"]

    def scripts(self, phase: str) -> list[str]:
        own = self.build_scripts() if phase == "build" else [t.name for t in self.tasks if t.phase == phase]
        return own + self.undefined.get(phase, [])

    def extra(self) -> list[TurboTask]:
        """The tasks beyond the phases that run after the build, on their own."""
        return [t for t in self.tasks if t.stage == "after"]


@dataclass
class WorkspaceTurbo:
    """What turbo.json says for the whole workspace (its global cache inputs)."""

    path: str
    global_dependencies: list[str] = field(default_factory=list)
    global_env: list[str] = field(default_factory=list)
    global_pass_through_env: list[str] | None = None
