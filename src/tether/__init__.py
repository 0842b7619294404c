"""tether: write a workflow once, run it on Argo, AWS Batch or this machine.

The public API is small and has no import-time side effects; heavy modules load on first use
(the compiler only when a workflow is compiled, never when a module of tasks is imported).
"""

from __future__ import annotations

from .api.files import Dir, File
from .api.graph import Promise, foreach, when
from .api.policies import Backoff, Cache, Checkpoint, Interruptible, Resources, Retry, Secret
from .api.task import TaskFunction, task
from .api.workflow import WorkflowFunction, workflow
from .errors import ContextError, RecoverableError
from .runtime.context import TaskContext, current_context

__all__ = [
    "Backoff",
    "Cache",
    "Checkpoint",
    "ContextError",
    "Dir",
    "File",
    "Interruptible",
    "Promise",
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
