"""Graph rules every executor shares: node ids, data edges, the skip rule, static foreach lists.

Written once here so that the local executor, `tether exec` and the Argo and Batch backends
agree on what a node is called, which tasks feed it, when it is skipped, and whether its fan-out
is known when the workflow is compiled.

- A task without `foreach` is one node named after it; a `foreach` task is one node per item,
  `task[0]`, `task[1]`, ... in the list's order.
- The *data* upstream of a task are the tasks whose outputs its expressions read (inputs,
  `when`, `foreach`, container arguments); `after:` adds order only.
- Skip rule: a task that reads an output of a skipped task is skipped too, since a skipped
  task's outputs do not exist (as in Argo, where referencing the outputs of a Skipped node
  leaves nothing to substitute); a task that only comes `after:` a skipped task still runs,
  since Argo's `depends` counts a Skipped task as complete:
  https://github.com/argoproj/argo-workflows/blob/main/docs/enhanced-depends-logic.md
- A `foreach` list is known at compile time when it is a literal list, or a workflow input
  read whole (`${{ inputs.grid }}`) that has a default; the run may still pass another value,
  which is why a backend that fans out at compile time must also accept the run's value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .expr import ListExpr, Literal, Ref, plain_value, refs

if TYPE_CHECKING:
    from .ir import Task, Workflow

_NODE_ID = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(?:\[(\d+)\])?$")


def node_id(task_name: str, index: int | None = None) -> str:
    """`train`, or `train[3]` for item 3 of a foreach task."""
    return task_name if index is None else f"{task_name}[{index}]"


def node_ids(task: "Task", count: int | None = None) -> list[str]:
    """The nodes a task becomes: [name] without foreach, else one per item (`count` of them)."""
    if task.foreach is None:
        return [task.name]
    if count is None:
        raise ValueError(f"task {task.name} is a foreach task: its node ids need the item count")
    return [node_id(task.name, i) for i in range(count)]


def parse_node_id(text: str) -> tuple[str, int | None]:
    """`train` -> ("train", None); `train[3]` -> ("train", 3). Raises ValueError otherwise."""
    match = _NODE_ID.match(text)
    if match is None:
        raise ValueError(f"not a node id: {text!r} (expected TASK or TASK[i], e.g. train or train[3])")
    index = match.group(3)
    return match.group(1), None if index is None else int(index)


def data_upstream(task: "Task") -> set[str]:
    """Tasks whose outputs this task reads (not those it merely comes `after`)."""
    return {r.task for e in task.expressions() for r in refs(e) if r.root == "tasks" and r.task is not None}


def order_upstream(task: "Task") -> set[str]:
    """Tasks this one waits for only because of `after:` (it reads none of their outputs)."""
    return set(task.after) - data_upstream(task)


def skipped_by(task: "Task", skipped: set[str]) -> bool:
    """Is `task` skipped because it reads outputs of a skipped task? (`after:` alone: no.)"""
    return not data_upstream(task).isdisjoint(skipped)


def skipping_upstream(task: "Task", skipped: set[str]) -> list[str]:
    """The skipped tasks whose outputs `task` reads, sorted (for the message that says why)."""
    return sorted(data_upstream(task) & skipped)


def foreach_known(task: "Task", workflow: "Workflow") -> tuple[bool, list[Any] | None]:
    """(True, items) when the foreach list is known at compile time, else (False, None).

    Known: a literal list (`foreach: [1, 2]`), or `${{ inputs.X }}` read whole where X has a
    default (the default's items; a run that passes X gets its own). A task without foreach
    gives (False, None).
    """
    expr = task.foreach
    if expr is None:
        return False, None
    if isinstance(expr, Literal) and isinstance(plain_value(expr.value), list):
        return True, plain_value(expr.value)  # type: ignore[return-value]
    if isinstance(expr, ListExpr) and all(isinstance(i, Literal) for i in expr.items):
        return True, [plain_value(i.value) for i in expr.items if isinstance(i, Literal)]
    if isinstance(expr, Ref) and expr.root == "inputs" and not expr.path and expr.name is not None:
        declared = workflow.input(expr.name)
        if declared is not None and declared.has_default and isinstance(declared.default, list):
            return True, list(declared.default)
    return False, None


__all__ = [
    "data_upstream",
    "foreach_known",
    "node_id",
    "node_ids",
    "order_upstream",
    "parse_node_id",
    "skipped_by",
    "skipping_upstream",
]
