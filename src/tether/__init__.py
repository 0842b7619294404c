"""tether: write a workflow once, run it on Argo, AWS Batch or this machine.

The public API is small and has no import-time side effects. Each public name loads on first
use (PEP 562): the `tether` command imports this package and pays for none of it, and a task
module that only decorates loads only the decorator API, never the compiler.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api.building import foreach, when
    from .api.files import Dir, File
    from .api.policies import Backoff, Cache, Checkpoint, Interruptible, Resources, Retry, Secret
    from .api.task import TaskFunction, task
    from .api.workflow import WorkflowFunction, workflow
    from .errors import ContextError, RecoverableError
    from .runtime.context import TaskContext, current_context

_WHERE = {
    "foreach": ".api.building",
    "when": ".api.building",
    "Dir": ".api.files",
    "File": ".api.files",
    "TaskFunction": ".api.task",
    "task": ".api.task",
    "WorkflowFunction": ".api.workflow",
    "workflow": ".api.workflow",
    "ContextError": ".errors",
    "RecoverableError": ".errors",
    "TaskContext": ".runtime.context",
    "current_context": ".runtime.context",
    **dict.fromkeys(("Backoff", "Cache", "Checkpoint", "Interruptible", "Resources", "Retry", "Secret"), ".api.policies"),
}
"""Public name -> the module that defines it. Every name loads on first use (PEP 562), so the
`tether` command, which imports this package first, pays for none of the decorator API."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tether' has no attribute {name!r}")
    value = getattr(_import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
