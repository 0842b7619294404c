"""What a person sees while a run goes and when it ends.

On a terminal, a live view redrawn in place (one line per node); otherwise (CI logs, pipes)
one plain line per event, so logs stay greppable. Both write to stderr: stdout carries only
the run's result (the workflow outputs, or the --json object).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from typing import TYPE_CHECKING, Sequence, TextIO

from .report import NodeView, Reporter, RunReport, Status

if TYPE_CHECKING:
    from .store import AttemptRecord, RunStore

_SYMBOL = {
    Status.PENDING: "·",
    Status.RUNNING: "▶",
    Status.RETRYING: "↻",
    Status.DONE: "✓",
    Status.FAILED: "✗",
    Status.SKIPPED: "-",
    Status.STOPPED: "■",
    Status.CACHED: "≡",
}


def describe(view: NodeView) -> str:
    """'running attempt 2', 'waiting for retry (in 12s)', 'failed: ...'."""
    if view.status is Status.RUNNING:
        since = f" ({view.running_s:.0f}s)" if view.running_s is not None and view.running_s >= 1 else ""
        return f"running attempt {view.attempt}{since}"
    if view.status is Status.RETRYING:
        wait = f"in {view.retry_in_s:.0f}s" if view.retry_in_s and view.retry_in_s >= 0.5 else "now"
        return f"{view.message}; next attempt {wait}" if view.message else f"waiting for retry ({wait})"
    status: str = view.status.value
    if view.status in (Status.DONE, Status.CACHED) and view.message:
        return f"{status} ({view.message})"
    return status + (f": {view.message}" if view.message else "")


class PlainReporter(Reporter):
    """One line per change, with the time since the run started."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.started = time.monotonic()

    def _line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:7.2f}s] {text}", file=self.stream, flush=True)

    def node_changed(self, view: NodeView) -> None:
        if view.status is not Status.PENDING:
            self._line(f"{view.node_id}: {describe(view)}")

    def note(self, text: str) -> None:
        self._line(text)


class LiveReporter(Reporter):
    """Redraws one line per node in place (ANSI cursor movement), at most every `tick_s`."""

    tick_s = 0.2

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.drawn = 0
        self.views: list[NodeView] = []
        self.started = time.monotonic()
        self.last_draw = 0.0

    def node_changed(self, view: NodeView) -> None:
        """Drawn on the next tick; failures and retries also stay in the scrollback."""
        if view.status in (Status.RETRYING, Status.FAILED):
            self.note(f"{view.node_id}: {describe(view)}")

    def note(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream)
        self._draw(self.views)

    def tick(self, views: Sequence[NodeView]) -> None:
        if time.monotonic() - self.last_draw < self.tick_s:
            return
        self._clear()
        self._draw(views)

    def close(self) -> None:
        self._clear()

    def _size(self) -> tuple[int, int]:
        """The size of the terminal this view draws on (stdout may well be a pipe)."""
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (OSError, ValueError):
            size = shutil.get_terminal_size((100, 30))
        return size.columns, size.lines

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self, views: Sequence[NodeView]) -> None:
        self.views = list(views)
        self.last_draw = time.monotonic()
        columns, rows = self._size()
        counts = Counter(v.status.value for v in views)
        shown = list(views)
        if len(shown) > rows - 3:  # a big fan-out: the nodes that are doing something, then counts
            active = (Status.RUNNING, Status.RETRYING, Status.FAILED)
            shown = [v for v in views if v.status in active][: max(rows - 3, 1)]
        width = max((len(v.node_id) for v in shown), default=0)
        elapsed = time.monotonic() - self.started
        lines = [f"  {_SYMBOL[v.status]} {v.node_id:<{width}}  {describe(v)}"[: columns - 1] for v in shown]
        tally = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        lines.append(f"  {elapsed:.1f}s  {tally}"[: columns - 1])
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)


def attempt_classes(attempts: Sequence["AttemptRecord"]) -> str:
    """'4: recoverable, recoverable, recoverable, success'."""
    if not attempts:
        return "-"
    return f"{len(attempts)}: " + ", ".join(a.outcome or "lost" for a in attempts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summary(report: RunReport, store: "RunStore", tail_lines: int = 10) -> str:
    """The final table, where the logs are, and for a failed node the end of its log."""
    rows = [("NODE", "STATUS", "ATTEMPTS", "TIME")]
    for node_id, node in report.nodes.items():
        spent = sum(a.duration_s or 0.0 for a in node.attempts) if node.attempts else None
        attempts = attempt_classes(node.attempts) if node.cached_from is None else f"0: from run {node.cached_from['run_id']}"
        rows.append((node_id, node.status.value, attempts, _duration(spent)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"run {report.run_id} {report.status} in {_duration(report.duration_s)}", ""]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    for node_id, node in report.nodes.items():
        if node.status is not Status.FAILED:
            continue
        lines += ["", f"{node_id} failed: {node.message}"]
        if node.attempts:
            log = store.read_log(report.run_id, node_id, node.attempts[-1].number)
            if log:
                tail = log.decode("utf-8", "replace").rstrip("\n").splitlines()[-tail_lines:]
                lines += [f"  last lines of attempt {node.attempts[-1].number}'s log:"] + [f"  | {t}" for t in tail]
    lines += ["", f"logs: tether logs {report.run_id} [NODE]{_store_flag(store)}"]
    if any(not node.status.terminal or node.status in (Status.FAILED, Status.STOPPED) for node in report.nodes.values()):
        # Only a run with something left to do is worth resuming (a finished one would rerun nothing).
        lines.append(f"resume: tether run --resume {report.run_id}{_store_flag(store)}")
    return "\n".join(lines)


def _store_flag(store: "RunStore") -> str:
    """`--store URI` when the store is not the one tether would find by default."""
    from .store import resolve_store_uri

    return "" if store.uri == resolve_store_uri(None) else f" --store {store.uri}"
