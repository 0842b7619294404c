"""The running task's context, reached through `tether.current_context()`.

Held in a ContextVar (never a process global) and set only by whoever runs a task:
`tether exec` for a real attempt, or a task called as a plain function in a unit test.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from ..errors import ContextError

if TYPE_CHECKING:
    from .checkpoint import Checkpoint


@dataclass(frozen=True)
class TaskContext:
    """What a running attempt may know about itself."""

    checkpoint: "Checkpoint"
    attempt: int  # 1-based: the first attempt is 1, whatever made the earlier ones end
    run_id: str
    node_id: str  # the task name, or "task[i]" for the i-th item of a foreach


_CURRENT: ContextVar[TaskContext | None] = ContextVar("tether_task_context", default=None)


def current_context() -> TaskContext:
    """The running task's context; raises ContextError outside a running task."""
    ctx = _CURRENT.get()
    if ctx is None:
        raise ContextError(
            "tether.current_context() is only available inside a running task "
            "(under `tether run`/`tether exec`, or a task called directly as a function)"
        )
    return ctx


def in_task() -> bool:
    """True inside a running task (a real attempt, or a task called as a plain function)."""
    return _CURRENT.get() is not None


@contextmanager
def task_context(ctx: TaskContext) -> Iterator[TaskContext]:
    """Make `ctx` the current context for the duration of a task call."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
