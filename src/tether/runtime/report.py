"""What a run looks like from outside: node statuses, progress views, and the final report.

The executor produces these values; progress.py shows them to a person, `--json` prints the
report, and status.json in the run store keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Sequence

from .store import AttemptRecord


class Status(str, Enum):
    """A node's state in this run (an attempt's outcome is the journal's business)."""

    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"  # waiting for its backoff before the next attempt
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    STOPPED = "stopped"  # not started, or not retried, because the run stopped
    CACHED = "cached"  # done without an attempt: its outputs are an earlier run's (runtime/cache.py)

    @property
    def terminal(self) -> bool:
        return self in (Status.DONE, Status.FAILED, Status.SKIPPED, Status.STOPPED, Status.CACHED)

    @property
    def succeeded(self) -> bool:
        """Its outputs exist: it ran to success here, or reused a cached result."""
        return self in (Status.DONE, Status.CACHED)


_EXPLAINED = (Status.FAILED, Status.STOPPED)  # the statuses whose message --json carries: why


@dataclass(frozen=True)
class NodeView:
    """What a progress view needs to show one node."""

    node_id: str
    status: Status
    attempt: int
    retry_in_s: float | None = None
    message: str = ""
    running_s: float | None = None  # how long the current attempt has been running


@dataclass(frozen=True)
class NodeReport:
    status: Status
    attempts: tuple[AttemptRecord, ...]
    message: str = ""
    cached_from: Mapping[str, str] | None = None  # CACHED: {"run_id", "node_id"} that computed it


@dataclass(frozen=True)
class RunReport:
    run_id: str
    status: str  # "succeeded", "failed" or "interrupted"
    outputs: dict[str, Any]
    nodes: dict[str, NodeReport]
    duration_s: float
    stopped_by_signal: int | None = None  # SIGINT / SIGTERM that stopped the run, if one did

    def to_json(self) -> dict[str, Any]:
        """The run for `--json`; a node that failed carries its failure message."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "outputs": self.outputs,
            "nodes": {
                node_id: {
                    "status": report.status.value,
                    **({"message": report.message} if report.message and report.status in _EXPLAINED else {}),
                    **({"cached_from": dict(report.cached_from)} if report.cached_from is not None else {}),
                    "attempts": [
                        {
                            "number": a.number,
                            "outcome": a.outcome,
                            "exit_code": a.exit_code,
                            "duration_s": a.duration_s,
                        }
                        for a in report.attempts
                    ],
                }
                for node_id, report in self.nodes.items()
            },
        }


class Reporter:
    """Receives progress as it happens; this base class ignores it (for library callers)."""

    tick_s: float | None = None  # how often `tick` wants to be called, None = never

    def node_changed(self, view: NodeView) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def tick(self, views: Sequence[NodeView]) -> None:
        pass
