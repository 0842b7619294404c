"""A task's verdict on a cluster: does it run (`when`, the skip rule), and over which items (`foreach`).

`tether exec --decide` is for engines that cannot evaluate tether expressions (AWS Batch): it
decides, records the verdict in the store with a conditional create (the first decider wins, so
a retried or duplicated decide step never changes a fan-out already under way), and writes it as
files the engine reads: `when`, `items`, `count`. A plain attempt that finds no recorded verdict
decides `when` itself the same way, so an engine that runs no decide step gets the same answer.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .inputs import InputError
from .outcome import EXIT_FATAL, EXIT_SUCCESS, EXIT_USAGE

if TYPE_CHECKING:
    from ..core.ir import Task
    from .cluster import PayloadResolver
    from .store import RunStore


def verdict(
    store: "RunStore", run_id: str, task: "Task", values: "PayloadResolver", need_items: bool
) -> tuple[bool, list[Any] | None, str]:
    """(runs, items or None, why it is skipped). Raises InputError when an expression fails."""
    from .cluster import skipped_upstream

    recorded = values.decision(task.name)
    if recorded is not None:
        return bool(recorded["when"]), recorded.get("items"), str(recorded.get("reason", ""))
    skipping = skipped_upstream(store, run_id, task, values.given)
    if skipping:
        return _record(store, run_id, task, values, False, None, f"it reads outputs of skipped task {', '.join(skipping)}")
    if task.when is not None and not values.evaluate(task.when, None, f"the `when` of {task.name}"):
        return _record(store, run_id, task, values, False, None, "`when` is false")
    if not need_items:
        return True, None, ""
    items = None
    if task.foreach is not None:
        items = values.foreach_items(task)
        if not isinstance(items, list):
            raise InputError(f"the foreach list of {task.name} is not a list")
    return _record(store, run_id, task, values, True, items, "")


def _record(
    store: "RunStore", run_id: str, task: "Task", values: "PayloadResolver", when: bool, items: list[Any] | None, reason: str
) -> tuple[bool, list[Any] | None, str]:
    decision = store.record_decision(run_id, task.name, {"when": when, "items": items, "reason": reason})
    values.decisions[task.name] = decision
    if not decision["when"]:
        store.record_skipped(run_id, task.name, str(decision.get("reason", "")))
    return bool(decision["when"]), decision.get("items"), str(decision.get("reason", ""))


def decide(
    store: "RunStore", run_id: str, task: "Task", values: "PayloadResolver", outputs_dir: str | None,
    escape: str | None = None,
) -> int:
    """The body of `tether exec --decide`: verdict to the store and to OUTPUTS_DIR/{when,items,count}."""
    from .cluster import write_decision_files

    if outputs_dir is None:
        print("tether exec: error: --decide needs --outputs-dir DIR (where the verdict is written)", file=sys.stderr)
        return EXIT_USAGE
    try:
        when, items, reason = verdict(store, run_id, task, values, need_items=True)
    except InputError as exc:
        print(f"tether: cannot decide {task.name}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    write_decision_files(outputs_dir, when, items, escape)
    if not when:
        print(f"tether: {task.name} skipped: {reason}", file=sys.stderr)
    return EXIT_SUCCESS
