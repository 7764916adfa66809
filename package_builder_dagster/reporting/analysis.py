"""The seed's "Report Usage": bottlenecks, failure types, agent effectiveness, waits, parallelism and
flaky tests, read back from the JSON reports of one run or of the runs in a date range. No Dagster here."""

from __future__ import annotations

from collections import Counter
from typing import Any


def analyze(runs: list[dict[str, Any]], top: int = 5) -> dict[str, Any]:
    reports = [(s["runId"], r) for s in runs for r in s["packageReports"]]
    slowest = sorted((r for _, r in reports if r["status"] != "blocked"), key=lambda r: r["duration"], reverse=True)
    types: Counter[str] = Counter()
    for _, r in reports:
        seen = {t for a in r["fixAttempts"] for t in a["types"]} | {f["type"] for f in r.get("failures") or []}
        types.update(seen)
    prompts: dict[str, dict[str, int]] = {}
    attempted, fixed = set(), set()
    for run_id, r in reports:
        for a in r["fixAttempts"]:
            p = prompts.setdefault(a["agentPromptUsed"], {"attempts": 0, "fixed": 0})
            p["attempts"] += 1
            p["fixed"] += bool(a.get("fixed"))
            attempted.add((run_id, r["packageName"]))
            if a.get("fixed"):
                fixed.add((run_id, r["packageName"]))
    waits = sorted((_longest_wait(r) for _, r in reports if r["waitedFor"]), key=lambda t: t[2], reverse=True)
    utilization = [s["slotUtilization"] for s in runs if s.get("slotUtilization") is not None]
    return {
        "runs": [{k: s.get(k) for k in ("runId", "runStatus", "startTime", "totalPackages", "successful", "failed", "blocked",
                                         "totalDuration", "slotUtilization", "criticalPath",
                                         "priority", "overheadPerPackage")} for s in runs],
        "slowestPackages": [{"packageName": r["packageName"], "duration": r["duration"], "status": r["status"]} for r in slowest[:top]],
        "criticalPaths": {s["runId"]: s.get("criticalPath") or [] for s in runs},
        "failureTypes": types.most_common(),
        "agents": {
            "attempts": sum(p["attempts"] for p in prompts.values()),
            "packagesAttempted": len(attempted),
            "packagesFixed": len(fixed),
            "byPrompt": {k: {**v, "successRate": round(v["fixed"] / v["attempts"], 3) if v["attempts"] else None}
                         for k, v in sorted(prompts.items())},
        },
        "waits": {
            "totalDependencyWait": sum(w for _, _, w in waits),  # summed over `waitingPackages`
            "waitingPackages": sum(1 for _, _, w in waits if w),
            "slotWaitingPackages": sum(1 for _, r in reports if r.get("slotWaitTime")),
            "totalSlotWait": sum(r.get("slotWaitTime", 0) for _, r in reports),
            "longest": [{"packageName": p, "dependency": d, "waitTime": w} for p, d, w in waits[:top]],
        },
        "flakyTests": flaky_tests(runs),
        "parallelism": {
            "slots": max((s.get("slots") or 0 for s in runs), default=0),
            "meanSlotUtilization": round(sum(utilization) / len(utilization), 4) if utilization else None,
        },
    }


def _longest_wait(report: dict[str, Any]) -> tuple[str, str, int]:
    """(package, the dependency it waited for last, how long): a package waits for all its dependencies at once."""
    last = max(report["waitedFor"], key=lambda w: w["waitTime"])
    return report["packageName"], last["packageName"], last["waitTime"]


def flaky_tests(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packages whose tests were flaky (failed, then passed on a retry) in `runs` (oldest first): in
    how many runs, how many failed attempts in all, which runs, the first error of the latest; most
    often flaky first. Reports written before flaky tests were recorded have none."""
    found: dict[str, dict[str, Any]] = {}
    for run in runs:
        for r in run.get("packageReports") or []:
            flaky = r.get("flakyTests")
            if not flaky:
                continue
            entry = found.setdefault(r["packageName"], {"packageName": r["packageName"], "runs": 0, "failedAttempts": 0,
                                                        "runIds": [], "lastError": None})
            entry["runs"] += 1
            entry["failedAttempts"] += len(flaky.get("failedAttempts") or [])
            entry["runIds"].append(run.get("runId"))
            entry["lastError"] = next((a.get("error") for a in flaky.get("failedAttempts") or []), entry["lastError"])
    return sorted(found.values(), key=lambda e: (-e["runs"], -e["failedAttempts"], e["packageName"]))
