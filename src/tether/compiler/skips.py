"""Typed skips: which tasks may be skipped, and how a spec spells the optional type that follows.

A workflow output that reads a task that may be skipped is null when it is, so its type is `T?`
(the executor gives the whole output null: runtime/executor.py `_workflow_outputs`). Which tasks
may be skipped is core.graph's skip rule, applied at compile time to every possible run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..core.graph import data_upstream
from ..core.types import Type

if TYPE_CHECKING:
    from ..core.ir import Task


def skippable(tasks: Iterable["Task"]) -> dict[str, str]:
    """Every task that may be skipped, with why: core.graph's skip rule (a task with a `when`, or
    one that reads outputs of a task that may be skipped; `after:` alone does not skip)."""
    tasks = list(tasks)
    reasons = {task.name: "it has a 'when'" for task in tasks if task.when is not None}
    if not reasons:
        return reasons
    readers: dict[str, list[str]] = {}
    for task in tasks:
        for upstream in sorted(data_upstream(task)):
            readers.setdefault(upstream, []).append(task.name)
    queue = list(reasons)
    for upstream in queue:  # breadth first; the list grows as readers are found
        for reader in readers.get(upstream, ()):
            if reader not in reasons:
                reasons[reader] = f"it reads outputs of '{upstream}', which may be skipped"
                queue.append(reader)
    return reasons


_PYTHON_SCALARS = {"file": "tether.File", "dir": "tether.Dir"}


def spelling(t: Type, python: bool) -> str:
    """A type as the spec's language writes it: `int?` in YAML, `Optional[int]` in Python."""
    if not python:
        return str(t)
    if t.kind == "list":
        text = f"list[{spelling(t.args[0], True)}]"
    elif t.kind == "dict":
        text = f"dict[str, {spelling(t.args[1], True)}]"
    else:
        text = _PYTHON_SCALARS.get(t.kind, t.kind)
    return f"Optional[{text}]" if t.optional else text


__all__ = ["skippable", "spelling"]
