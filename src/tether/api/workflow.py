"""`@tether.workflow`: a function whose body wires task calls into a DAG.

The body runs once, under the compiler, with a Promise for each parameter (the workflow's
inputs); what it returns becomes the workflow's outputs. Called inside another workflow's body,
a workflow is inlined: its tasks join the caller's DAG.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Generic, Mapping, TypeVar, overload

from .building import active_builder

try:
    from typing import ParamSpec
except ImportError:  # pragma: no cover
    from typing_extensions import ParamSpec  # type: ignore[assignment]

P = ParamSpec("P")
R = TypeVar("R")


class WorkflowFunction(Generic[P, R]):
    """A decorated workflow; `tether compile file.py:NAME` finds it by its attribute name."""

    __wrapped__: Callable[P, R]

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None,
        schedule: str | None,
        labels: Mapping[str, str],
    ):
        functools.update_wrapper(self, fn)
        self.name = name
        self.schedule = schedule
        self.labels = dict(labels)

    @property
    def workflow_name(self) -> str:
        return self.name or self.__wrapped__.__name__.replace("_", "-").lower()

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if active_builder() is not None:  # a sub-workflow: its tasks join the caller's DAG
            return self.__wrapped__(*args, **kwargs)
        raise RuntimeError(
            f"workflow '{self.workflow_name}' runs through tether: `tether run {self.ref}` "
            "(its tasks can be called directly in tests)"
        )

    @property
    def ref(self) -> str:
        """`module:function`, as `tether run` and `tether compile` accept it."""
        return f"{self.__wrapped__.__module__}:{self.__wrapped__.__qualname__}"

    def __repr__(self) -> str:
        return f"<tether workflow {self.workflow_name} ({self.ref})>"


@overload
def workflow(fn: Callable[P, R], /) -> WorkflowFunction[P, R]: ...


@overload
def workflow(
    *, name: str | None = None, schedule: str | None = None, labels: Mapping[str, str] | None = None
) -> Callable[[Callable[P, R]], WorkflowFunction[P, R]]: ...


def workflow(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    schedule: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Declare a workflow. Parameters are its inputs (defaults included), the first paragraph of
    the docstring its description, and the return value (a promise, a NamedTuple or a dict of
    promises) its outputs. `schedule` is a cron expression, as in the YAML `spec.schedule`."""

    def decorate(function: Callable[P, R]) -> WorkflowFunction[P, R]:
        return WorkflowFunction(function, name, schedule, labels or {})

    return decorate(fn) if fn is not None else decorate
