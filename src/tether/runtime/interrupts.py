"""`--interrupt NODE@ATTEMPT[:after=SECONDS]`: a spot reclaim on demand.

The executor sends that attempt SIGTERM, exactly what a reclaimed spot node or an evicted pod
gets, so a person can prove a task resumes from its checkpoint before paying for a cluster.
Without `after=`, the attempt is interrupted as soon as it commits its first checkpoint (so the
retry has something to resume from); a task that declares no `checkpoint:`, and a container
task (whose `$TETHER_CHECKPOINT_DIR` is committed when its command ends or is terminated), is
interrupted after one second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYNTAX = re.compile(
    r"^(?P<node>[a-z0-9][a-z0-9-]*(?:\[\d+\])?)"  # a task name, or TASK[i] for a foreach item
    r"@(?P<attempt>\d+)"
    r"(?::after=(?P<after>\d+(?:\.\d+)?)s?)?$"
)


class InterruptSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class InterruptRequest:
    node_id: str
    attempt: int
    after_s: float | None = None  # None: at the first checkpoint commit (see the module docstring)

    @classmethod
    def parse(cls, text: str) -> "InterruptRequest":
        match = _SYNTAX.match(text.strip())
        if match is None or int(match.group("attempt")) < 1:
            raise InterruptSyntaxError(
                f"--interrupt {text!r}: expected NODE@ATTEMPT or NODE@ATTEMPT:after=SECONDS "
                "(e.g. train@1, 'shard[2]@1:after=0.5'; attempts count from 1)"
            )
        after = match.group("after")
        return cls(match.group("node"), int(match.group("attempt")), float(after) if after is not None else None)

    def __str__(self) -> str:
        suffix = f":after={self.after_s:g}" if self.after_s is not None else ""
        return f"{self.node_id}@{self.attempt}{suffix}"
