"""Hold a Ctrl-C / SIGTERM / SIGHUP that arrives between the creation of a run and the moment its
executor installs its own handlers (runtime/executor.py, `_signal_pipe`).

Without it, such a signal raises KeyboardInterrupt (or kills the process) mid-start: the run is
left `unknown` with no nodes, and the person gets neither its id nor the resume hint. Held, it is
handed to the executor (`take`), which stops the run before launching anything and records it
as interrupted, exactly as it does for a signal that comes a moment later.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Callable

_STOPS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class DeferredStop:
    """A context manager: while active (and not released), the stop signals are only noted."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> "DeferredStop":
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            self._previous = {sig: signal.signal(sig, self._note) for sig in _STOPS}
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    def take(self) -> int | None:
        """The signal that came while held (the executor's handlers are in place by now)."""
        return self.signum

    def release(self) -> None:
        """Put back the handlers found on entry (idempotent)."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


__all__ = ["DeferredStop"]
