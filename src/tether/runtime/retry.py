"""Whether a node gets another attempt: the two budgets of DESIGN.md, judged from the journal.

The journal is the only input (never a counter in the executor's memory), so a resumed run,
a restarted executor and `tether exec` on a cluster all count the same attempts the same way:

- "recoverable" (exit 75) and "timeout" use the user budget: `retries: N` allows N of them.
- "interrupted" (SIGTERM, exit 143) and a lost attempt (started, never ended: its process or
  machine died) use the interruption budget of an interruptible task. A task that is not
  interruptible has no such budget: its interruptions use the user budget instead.
- "fatal" is never retried.
- "cancelled" (the attempt was stopped because its run was stopped: Ctrl-C on `tether run`)
  uses no budget; a resumed run simply starts the node again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..core.ir import Task
from .store import AttemptRecord

USER_OUTCOMES = frozenset({"recoverable", "timeout"})
INTERRUPTION_OUTCOMES = frozenset({"interrupted", None})


@dataclass(frozen=True)
class Budgets:
    """Failures recorded so far against each budget, and each budget's size."""

    user_used: int
    user_allowed: int
    interruptions_used: int
    interruptions_allowed: int  # 0 for a task that is not interruptible


@dataclass(frozen=True)
class Verdict:
    retry: bool
    delay_s: float
    reason: str  # for a person: "retry 2 of 3", "no retries left (3 used)", ...


def _uses_user_budget(task: Task, outcome: str | None) -> bool:
    if outcome in USER_OUTCOMES:
        return True
    return outcome in INTERRUPTION_OUTCOMES and task.interruptible is None


def budgets(task: Task, attempts: Sequence[AttemptRecord]) -> Budgets:
    user = sum(1 for a in attempts if _uses_user_budget(task, a.outcome))
    interruptions = sum(1 for a in attempts if a.outcome in INTERRUPTION_OUTCOMES) if task.interruptible else 0
    return Budgets(
        user_used=user,
        user_allowed=task.retry.retries,
        interruptions_used=interruptions,
        interruptions_allowed=task.interruptible.max_interruptions if task.interruptible else 0,
    )


def next_step(task: Task, attempts: Sequence[AttemptRecord]) -> Verdict:
    """After the last attempt in `attempts` ended without success: retry it, and when?"""
    last = attempts[-1].outcome if attempts else "fatal"
    if last == "success":
        return Verdict(False, 0.0, "succeeded")
    if last == "fatal":
        return Verdict(False, 0.0, "fatal failure: not retried")
    if last == "cancelled":
        return Verdict(False, 0.0, "cancelled with its run: resume the run to continue")
    counted = budgets(task, attempts)
    if _uses_user_budget(task, last):
        if counted.user_used <= counted.user_allowed:
            backoff = task.retry.backoff
            delay = backoff.delay_before(counted.user_used) if backoff is not None else 0.0
            return Verdict(True, delay, f"retry {counted.user_used} of {counted.user_allowed}")
        if counted.user_allowed == 0:
            return Verdict(False, 0.0, "no retries allowed (retries: 0)")
        return Verdict(False, 0.0, f"no retries left ({counted.user_allowed} of {counted.user_allowed} used)")
    if counted.interruptions_used <= counted.interruptions_allowed:
        return Verdict(
            True, 0.0, f"interruption {counted.interruptions_used} of {counted.interruptions_allowed} retried"
        )
    used, allowed = counted.interruptions_used, counted.interruptions_allowed
    return Verdict(False, 0.0, f"too many interruptions ({used}, {allowed} allowed)")
