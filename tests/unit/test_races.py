"""No race the tool adds (issue 21 point 2): a task that rewrites a package's outputs after its build
never runs while a dependent's task reads them, and `tsc -b` builds that reach one referenced
project never run at the same time."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

from package_builder_dagster.discovery.config import QualityCheck
from package_builder_dagster.execution.output_hazards import Hold, OutputHazards, analyze
from package_builder_dagster.execution.scheduler import Finished, schedule

from .test_scheduler import Recorder

# ---- in process: the scheduler with fake tasks -------------------------------------------------------

def _pkg(root: Path, name: str, scripts: dict[str, str]) -> SimpleNamespace:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(dir=folder, scripts=scripts, quality_checks=[], output_globs=None)


def _hazards(order, deps, packages, history=None) -> OutputHazards:
    return OutputHazards(order, deps, packages, {"build": ["build"], "test": ["test"]},
                         [QualityCheck(name="lint", builtin="lint")], True, history)


def _interval(rec: Recorder, package: str, task: str) -> tuple[int, int]:
    return rec.index("start", package, task), rec.index("end", package, task)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_script_text_tells_which_tasks_rewrite_outputs():
    scripts = {"build": "tsc -p .", "test": "npm run build && vitest run", "pretest": "rimraf ./dist", "lint": "eslint src",
               "typecheck": "tsc --noEmit", "a": "cross-env CI=1 tsup src/index.ts", "b": "run-s build:*", "build:js": "vite build",
               "c": "node scripts/test.js", "d": "pnpm build", "e": "rm -rf coverage", "f": "rm -rf lib/ && jest"}
    found = {k: analyze(v, scripts, ["build"]).rewrites for k, v in scripts.items()}
    assert "runs the build" in found["test"] and "removes dist/" in found["pretest"]
    assert found["lint"] is None and found["typecheck"] is None and found["c"] is None and found["e"] is None
    assert found["a"] and "vite build" in found["b"] and "runs the build" in found["d"] and "lib/" in found["f"]
    assert analyze("tsc -b tsconfig.build.json --verbose", scripts, []).tsc_builds == [["tsconfig.build.json"]]


def test_a_task_that_rewrites_outputs_never_runs_beside_a_reader_and_slots_stay_busy(tmp_path):
    """base's test runs its build; d1-d3 read base's outputs (d3 through d2); `other` is unrelated."""
    order = ["base", "other", "d1", "d2", "d3"]
    deps = {"d1": ["base"], "d2": ["base"], "d3": ["d2"]}
    reader = {"build": "node build.js", "test": "node test.js"}
    packages = {n: _pkg(tmp_path, n, reader) for n in order}
    packages["base"].scripts = {"build": "node build.js", "pretest": "rimraf dist", "test": "node test.js"}
    hazards = _hazards(order, deps, packages)
    assert hazards.hold("base", "test").exclusive == {"outputs:base"}
    assert hazards.hold("d3", "build").shared == {"outputs:base"} and not hazards.hold("other", "test")
    rec = Recorder(sleep=0.03, after_build=("test", "check:lint"), slow={("base", "test"): 0.3, ("other", "build"): 0.3})
    events = list(schedule(order, deps, rec.start, 4, poll_seconds=0.01, holds=hazards.hold))
    outcomes = {e.outcome.package: e.outcome for e in events if isinstance(e, Finished)}
    assert all(o.status == "success" for o in outcomes.values()) and len(outcomes) == 5
    writer = _interval(rec, "base", "test")
    for d in ("d1", "d2", "d3"):
        for task in ("build", "test", "check:lint"):
            assert not _overlap(writer, _interval(rec, d, task)), (d, task, rec.log)
    assert _overlap(writer, _interval(rec, "other", "build"))  # the slot went to other ready work
    entry = outcomes["base"].serialized[0]
    assert entry["task"] == "base#test" and "pretest script removes dist/" in entry["reason"]
    assert entry["heldBack"] or entry["waitedFor"]
    assert any(w.startswith("serialized test: ") for w in outcomes["base"].warnings)


def _tsconfig(folder: Path, references: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    refs = ",\n".join(f'    {{ "path": "{r}" }}' for r in references)
    (folder / "tsconfig.json").write_text(
        f'// project references\n{{\n  "compilerOptions": {{ "composite": true, /* outDir */ "outDir": "dist" }},\n'
        f'  "references": [\n{refs}{"," if refs else ""}\n  ],\n}}\n')


def test_tsc_b_builds_that_reach_one_referenced_project_never_run_together(tmp_path):
    """a and b (no dependency between them) both `tsc -b` into ../shared (through ../shared/core for b);
    c builds a project of its own: it runs beside them."""
    _tsconfig(tmp_path / "shared", [])
    _tsconfig(tmp_path / "shared" / "core", ["../"])
    order = ["a", "b", "c"]
    packages = {n: _pkg(tmp_path / "packages", n, {"build": "tsc -b", "test": "node test.js"}) for n in order}
    packages["c"].scripts = {"build": "tsc -b tsconfig.json", "test": "node test.js"}
    _tsconfig(packages["a"].dir, ["../../shared"])
    _tsconfig(packages["b"].dir, ["../../shared/core/tsconfig.json"])
    _tsconfig(packages["c"].dir, [])
    hazards = _hazards(order, {}, packages)
    assert f"tsc:{(tmp_path / 'shared' / 'tsconfig.json').resolve()}" in hazards.hold("b", "build").exclusive
    assert not hazards.hold("c", "build") and not hazards.hold("a", "test")
    for _ in range(3):
        rec = Recorder(sleep=0.02, slow={("a", "build"): 0.2, ("b", "build"): 0.2, ("c", "build"): 0.2})
        events = list(schedule(order, {}, rec.start, 4, poll_seconds=0.01, holds=hazards.hold))
        assert not _overlap(_interval(rec, "a", "build"), _interval(rec, "b", "build")), rec.log
        assert _overlap(_interval(rec, "c", "build"), _interval(rec, "a", "build"))
    outcomes = {e.outcome.package: e.outcome for e in events if isinstance(e, Finished)}
    entry = outcomes["a"].serialized[0]
    assert entry == {**entry, "task": "a#build", "heldBack": ["b#build"], "waitedFor": []}
    assert "runs `tsc -b`" in entry["reason"] and "shared/tsconfig.json" in entry["reason"] and "also built by b" in entry["reason"]


def test_holds_never_deadlock_and_never_let_a_writer_beside_its_readers():
    """Random graphs and writers, 1-4 slots, both testsAfter modes: every package ends, no overlap."""
    rng = random.Random(21)
    for trial in range(12):
        n = rng.randint(4, 9)
        order = [f"p{i}" for i in range(n)]
        deps = {p: rng.sample(order[:i], min(i, rng.randint(0, 2))) for i, p in enumerate(order)}
        writers = {(p, t) for p in order for t in ("test", "check:lint") if rng.random() < 0.3}
        closure: dict[str, set[str]] = {}
        for p in order:
            closure[p] = set(deps[p]).union(*(closure[d] for d in deps[p]))

        def holds(package: str, task: str, closure: dict[str, set[str]] = closure, writers: set = writers) -> Hold:
            shared = (frozenset(f"outputs:{d}" for d in closure[package] if any(w[0] == d for w in writers))
                      if task != "finish" else frozenset())
            return Hold(shared, frozenset({f"outputs:{package}"}) if (package, task) in writers else frozenset(), "w")

        rec = Recorder(sleep=0.004, after_build=("test", "check:lint"))
        mode = "all-builds" if trial % 3 == 0 else "own-build"
        events = list(schedule(order, deps, rec.start, 1 + trial % 4, poll_seconds=0.005, holds=holds, tests_after=mode))
        assert sorted(e.outcome.package for e in events if isinstance(e, Finished)) == sorted(order)
        for package, task in writers:
            for reader in (p for p in order if package in closure[p]):
                for t in ("build", "test", "check:lint"):
                    assert not _overlap(_interval(rec, package, task), _interval(rec, reader, t))
