"""tether: write a workflow once, run it on Argo, AWS Batch or this machine.

The public API is small and has no import-time side effects; heavy modules load on first use.
"""

from __future__ import annotations

from .errors import ContextError, RecoverableError
from .runtime.context import TaskContext, current_context

__all__ = [
    "ContextError",
    "RecoverableError",
    "TaskContext",
    "current_context",
]
