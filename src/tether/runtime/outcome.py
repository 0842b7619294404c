"""Exit codes of an attempt and the two retry budgets, judged from the run's journal.

`tether exec` enforces the user budget itself, so Argo, AWS Batch and the local executor need
only one platform-level limit (retries + max_interruptions) and the meaning stays the same:

- `retries: N` allows N retries of recoverable failures. Outcomes "recoverable" and "timeout"
  consume it. When N are already recorded, the next recoverable failure exits 1 (fatal).
- An interruptible task's interruptions ("interrupted", and lost attempts: a start with no end,
  which is what a SIGKILLed process or a vanished node leaves) consume
  `interruptible.max_interruptions` instead, so a spot reclaim never eats a user retry.
- A task that is *not* interruptible has no interruption budget: its interruptions consume the
  user budget. A platform that retries it does so on the one limit it has, and counting the
  interruption there keeps "how many times may this task start again" a single, finite number
  (an unbudgeted interruption would allow endless restarts of a task that was never declared
  safe to restart).

An attempt that starts when a budget is already overdrawn (a platform limit looser than ours,
or a resumed run) is refused as fatal before the task runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..compiler.ir import Task
    from .store import AttemptRecord

EXIT_SUCCESS = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_RECOVERABLE = 75  # EX_TEMPFAIL
EXIT_INTERRUPTED = 143  # 128 + SIGTERM

_USER_BUDGET_OUTCOMES = ("recoverable", "timeout")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Budget:
    """What earlier attempts have used of a task's two budgets."""

    retries: int
    retries_used: int
    max_interruptions: int | None  # None: not interruptible, interruptions use `retries`
    interruptions_used: int
    interruptions_in_retries: int  # interruptions counted in retries_used (non-interruptible only)

    @classmethod
    def from_journal(cls, task: "Task", attempts: Iterable["AttemptRecord"], current: int) -> "Budget":
        """Count the attempts numbered below `current` (an end-less one is a lost attempt)."""
        earlier = [a for a in attempts if a.number < current]
        failures = sum(1 for a in earlier if a.outcome in _USER_BUDGET_OUTCOMES)
        interruptions = sum(1 for a in earlier if a.outcome in (None, "interrupted"))
        if task.interruptible is None:
            return cls(task.retry.retries, failures + interruptions, None, 0, interruptions)
        return cls(task.retry.retries, failures, task.interruptible.max_interruptions, interruptions, 0)

    def overdrawn(self) -> str | None:
        """Why this attempt must not run at all, or None when it may."""
        if self.retries_used > self.retries:
            spent_by = (
                f" ({_plural(self.interruptions_in_retries, 'interruption')} of this non-interruptible task included)"
                if self.interruptions_in_retries
                else ""
            )
            return (
                f"the retry budget ({_plural(self.retries, 'retry')}) was already spent by "
                f"{_plural(self.retries_used, 'earlier failure')}{spent_by}"
            )
        if self.max_interruptions is not None and self.interruptions_used > self.max_interruptions:
            return (
                f"the interruption budget ({_plural(self.max_interruptions, 'interruption')}) was already "
                f"spent by {_plural(self.interruptions_used, 'earlier interruption')}"
            )
        return None

    def after_recoverable(self) -> tuple[bool, str]:
        """(may retry, note for the failure line) for a recoverable failure of this attempt."""
        failure_number = self.retries_used + 1
        if failure_number > self.retries:
            if self.retries == 0:
                return False, "not retried: the task has retries: 0"
            return False, f"not retried: the retry budget ({_plural(self.retries, 'retry')}) is spent"
        return True, f"will retry: {self.retries - failure_number} of {self.retries} retries left"

    def after_interruption(self) -> str:
        """Note for the line that reports this attempt was interrupted."""
        if self.max_interruptions is None:
            failure_number = self.retries_used + 1
            if failure_number > self.retries:
                return "the task is not interruptible and its retry budget is spent: not retried"
            return (
                "the task is not interruptible, so this counts against its retries: "
                f"{self.retries - failure_number} of {self.retries} retries left"
            )
        number = self.interruptions_used + 1
        if number > self.max_interruptions:
            return f"not retried: the interruption budget ({self.max_interruptions}) is spent"
        return (
            f"will resume: {self.max_interruptions - number} of {self.max_interruptions} interruptions left, "
            "retries untouched"
        )
