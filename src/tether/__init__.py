"""tether: write a workflow once, run it on Argo, AWS Batch or this machine.

The public API is small and has no import-time side effects. `import tether` loads only what
decorating needs; the policy objects (`tether.Retry`, `tether.Resources`, ...) load on first use
(PEP 562), and the compiler only when a workflow is compiled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.building import foreach, when
from .api.files import Dir, File
from .api.task import TaskFunction, task
from .api.workflow import WorkflowFunction, workflow
from .errors import ContextError, RecoverableError
from .runtime.context import TaskContext, current_context

if TYPE_CHECKING:
    from .api.policies import Backoff, Cache, Checkpoint, Interruptible, Resources, Retry, Secret

_POLICIES = frozenset({"Backoff", "Cache", "Checkpoint", "Interruptible", "Resources", "Retry", "Secret"})


def __getattr__(name: str) -> Any:
    if name in _POLICIES:
        from .api import policies

        return getattr(policies, name)
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _POLICIES)


__all__ = [
    "Backoff",
    "Cache",
    "Checkpoint",
    "ContextError",
    "Dir",
    "File",
    "Interruptible",
    "RecoverableError",
    "Resources",
    "Retry",
    "Secret",
    "TaskContext",
    "TaskFunction",
    "WorkflowFunction",
    "current_context",
    "foreach",
    "task",
    "when",
    "workflow",
]
