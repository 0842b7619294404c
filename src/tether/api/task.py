"""`@tether.task`: a plain function plus its policies; a node of the DAG when called in a workflow.

Decorating never inspects annotations or checks policies, so importing a module of tasks cannot
fail because of tether; the compiler reads both later and reports problems with file:line.
Called outside a workflow, a task is just its function, run with a task context whose checkpoint
lives in a temporary directory, so unit tests of user code need no runner.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, Sequence, TypeVar, overload

from .building import active_builder

if TYPE_CHECKING:
    from .policies import Cache, Checkpoint, Duration, Interruptible, Resources, Retry, Secret, TaskOptions

try:  # Python 3.10+: ParamSpec keeps the decorated function's signature for type checkers
    from typing import ParamSpec
except ImportError:  # pragma: no cover
    from typing_extensions import ParamSpec  # type: ignore[assignment]

P = ParamSpec("P")
R = TypeVar("R")


class TaskFunction(Generic[P, R]):
    """A decorated task. `__wrapped__` is the plain function (what `tether exec` runs)."""

    __wrapped__: Callable[P, R]

    def __init__(self, fn: Callable[P, R], options: "TaskOptions"):
        functools.update_wrapper(self, fn)
        self.options = options

    @property
    def task_name(self) -> str:
        """The IR task name: `options.name`, else the function name in DNS-1123 style."""
        return self.options.name or self.__wrapped__.__name__.replace("_", "-").lower()

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """In a workflow body: add a node and return a Promise (typed as R so user code type-checks
        the way it reads). Anywhere else: run the function."""
        builder = active_builder()
        if builder is not None:
            from .graph import caller

            return builder.add_call(self, args, kwargs, caller())  # type: ignore[return-value]
        return self.run_locally(*args, **kwargs)

    def run_locally(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function now. Inside a running task (or a context a test set) the current task
        context is kept; otherwise a fresh one with a temporary checkpoint is made for this call.
        Exceptions propagate unchanged: a RecoverableError is not retried here."""
        from ..runtime.context import TaskContext, in_task, task_context

        if in_task():
            return self.__wrapped__(*args, **kwargs)
        import tempfile
        import uuid

        from ..core.ir import DEFAULT_CHECKPOINT_KEEP
        from ..runtime.checkpoint import Checkpoint as CheckpointStore
        from .policies import Checkpoint

        checkpoint = self.options.checkpoint
        keep = (
            checkpoint.keep
            if isinstance(checkpoint, Checkpoint) and checkpoint.keep
            else DEFAULT_CHECKPOINT_KEEP
        )
        with tempfile.TemporaryDirectory(prefix="tether-checkpoint-") as directory:
            store = CheckpointStore.from_uri(directory, attempt=1, keep=keep)
            context = TaskContext(
                checkpoint=store, attempt=1, run_id=f"local-{uuid.uuid4().hex[:12]}", node_id=self.task_name
            )
            with task_context(context):
                return self.__wrapped__(*args, **kwargs)

    def __repr__(self) -> str:
        return (
            f"<tether task {self.task_name} ({self.__wrapped__.__module__}:{self.__wrapped__.__qualname__})>"
        )


@overload
def task(fn: Callable[P, R], /) -> TaskFunction[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int | Retry = 0,
    interruptible: bool | Interruptible = False,
    checkpoint: bool | Checkpoint = False,
    resources: Resources | None = None,
    timeout: Duration | None = None,
    cache: bool | Cache = False,
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Sequence[Secret] = (),
) -> Callable[[Callable[P, R]], TaskFunction[P, R]]: ...


def task(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int | Retry = 0,
    interruptible: bool | Interruptible = False,
    checkpoint: bool | Checkpoint = False,
    resources: Resources | None = None,
    timeout: Duration | None = None,
    cache: bool | Cache = False,
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Sequence[Secret] = (),
) -> Any:
    """Declare a task. Its inputs and outputs come from the function's annotations; the keywords
    are the YAML task keys (`retries=3` or `retries=tether.Retry(3, backoff=tether.Backoff("30s"))`,
    `interruptible=True`, `checkpoint=tether.Checkpoint(keep=2)`,
    `resources=tether.Resources(cpu="2", memory="4Gi", gpu=1)`, `timeout="2h"`, ...).
    Usable bare (`@tether.task`) or called (`@tether.task(retries=3)`)."""
    from .policies import TaskOptions

    options = TaskOptions(
        name=name,
        retries=retries,
        interruptible=interruptible,
        checkpoint=checkpoint,
        resources=resources,
        timeout=timeout,
        cache=cache,
        image=image,
        env=dict(env or {}),
        secrets=tuple(secrets),
    )

    def decorate(function: Callable[P, R]) -> TaskFunction[P, R]:
        return TaskFunction(function, options)

    return decorate(fn) if fn is not None else decorate
