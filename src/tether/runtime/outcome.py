"""Exit codes of an attempt, and what `tether exec` says about the two retry budgets.

`tether exec` enforces the user budget itself, so Argo, AWS Batch and the local executor need
only one platform-level limit (retries + max_interruptions) and the meaning stays the same.
The counting rule lives in tether.runtime.retry (one rule for exec and the local executor):

- `retries: N` allows N retries of recoverable failures. Outcomes "recoverable" and "timeout"
  consume it. When N are already recorded, the next recoverable failure is still recorded
  "recoverable" (with "no retries left"), and exits 1 so that no platform retries it.
- An interruptible task's interruptions ("interrupted", and lost attempts: a start with no end,
  which is what a SIGKILLed process or a vanished node leaves) consume
  `interruptible.max_interruptions` instead, so a spot reclaim never eats a user retry.
- A task that is *not* interruptible has no interruption budget: its interruptions consume the
  user budget. A platform that retries it does so on the one limit it has, and counting the
  interruption there keeps "how many times may this task start again" a single, finite number
  (an unbudgeted interruption would allow endless restarts of a task never declared safe to
  restart).

An attempt that starts when a budget is already overdrawn (a platform limit looser than ours,
a resumed run) is refused as fatal before the task runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from .retry import Budgets, budgets

if TYPE_CHECKING:
    from ..core.ir import Task
    from .store import AttemptRecord

EXIT_SUCCESS = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_RECOVERABLE = 75  # EX_TEMPFAIL
EXIT_INTERRUPTED = 143  # 128 + SIGTERM


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


@dataclass(frozen=True)
class Budget:
    """What the attempts before this one used of a task's two budgets."""

    counted: Budgets
    interruptible: bool

    @classmethod
    def from_journal(cls, task: "Task", attempts: Iterable["AttemptRecord"], current: int) -> "Budget":
        """Count the attempts numbered below `current` (an end-less one is a lost attempt)."""
        earlier = [a for a in attempts if a.number < current]
        return cls(budgets(task, earlier), task.interruptible is not None)

    def overdrawn(self) -> str | None:
        """Why this attempt must not run at all, or None when it may."""
        c = self.counted
        if c.user_used > c.user_allowed:
            counted_in = "" if self.interruptible else ", interruptions included (the task is not interruptible)"
            return (
                f"the retry budget ({_plural(c.user_allowed, 'retry', 'retries')}) was already spent by "
                f"{_plural(c.user_used, 'earlier failure')}{counted_in}"
            )
        if self.interruptible and c.interruptions_used > c.interruptions_allowed:
            return (
                f"the interruption budget ({_plural(c.interruptions_allowed, 'interruption')}) was already "
                f"spent by {_plural(c.interruptions_used, 'earlier interruption')}"
            )
        return None

    def after_recoverable(self) -> tuple[bool, str]:
        """(may retry, note for the failure line) for a recoverable failure of this attempt."""
        c = self.counted
        failure_number = c.user_used + 1
        if failure_number > c.user_allowed:
            if c.user_allowed == 0:
                return False, "no retries left: the task has retries: 0"
            return False, f"no retries left: the retry budget ({_plural(c.user_allowed, 'retry', 'retries')}) is spent"
        return True, f"will retry: {c.user_allowed - failure_number} of {c.user_allowed} retries left"

    def after_interruption(self) -> str:
        """Note for the line that reports this attempt was interrupted."""
        c = self.counted
        if not self.interruptible:
            failure_number = c.user_used + 1
            if failure_number > c.user_allowed:
                return "the task is not interruptible and its retry budget is spent: not retried"
            return (
                "the task is not interruptible, so this counts against its retries: "
                f"{c.user_allowed - failure_number} of {c.user_allowed} retries left"
            )
        number = c.interruptions_used + 1
        if number > c.interruptions_allowed:
            return f"not retried: the interruption budget ({c.interruptions_allowed}) is spent"
        return (
            f"will resume: {c.interruptions_allowed - number} of {c.interruptions_allowed} interruptions left, "
            "retries untouched"
        )
