"""Typed interfaces of Python tasks and workflows, read from their annotations.

`int float bool str tether.File tether.Dir list[T] dict[str, T] Optional[T] / T | None` map to
the type language; several outputs come from a NamedTuple return, none from `-> None`. Every
problem is a diagnostic at the parameter or return annotation it concerns, and one bad
annotation never hides the others: annotations are resolved one at a time.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

from ...api.graph import TaskInterface
from ...api.literals import NOT_JSON, json_value
from ...core.diagnostics import Diagnostics
from .source import SourceIndex
from ...core.types import Type
from .annotations import TYPES_HINT, UnsupportedAnnotation, tether_type

def _is_named_tuple(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields")


class _Annotations:
    """Resolve a function's annotations one by one, so one NameError hides nothing else."""

    def __init__(self, fn: Callable[..., Any]):
        self._fn = fn
        self._raw: dict[str, Any] = dict(getattr(fn, "__annotations__", {}) or {})

    def has(self, name: str) -> bool:
        return name in self._raw

    def resolve(self, name: str) -> Any:
        holder = types.SimpleNamespace(
            __annotations__={name: self._raw[name]}, __globals__=self._fn.__globals__
        )
        try:
            return typing.get_type_hints(holder, include_extras=True)[name]
        except Exception as exc:  # NameError, SyntaxError in a string annotation, ...
            raise UnsupportedAnnotation(
                f"annotation '{self._raw[name]}' cannot be resolved ({type(exc).__name__}: {exc})",
                "import the names used in annotations at module level",
            ) from None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: Type
    has_default: bool
    default: Any


def _parameters(
    fn: Callable[..., Any], what: str, index: SourceIndex, diags: Diagnostics
) -> list[Parameter] | None:
    """The typed parameters of a task or workflow function; None (reported) if any is broken."""
    code = fn.__code__
    annotations = _Annotations(fn)
    ok = True
    result: list[Parameter] = []
    for param in inspect.signature(fn).parameters.values():
        span = index.parameter_span(code, param.name)
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            diags.error(
                "E210",
                f"{what} cannot take *{param.name}: every input needs a name and a type",
                span,
                "list the inputs as named parameters",
            )
            ok = False
            continue
        if param.kind is param.POSITIONAL_ONLY:
            diags.error(
                "E210",
                f"parameter '{param.name}' of {what} is positional-only; inputs are passed by name",
                span,
                "remove the '/' from the signature",
            )
            ok = False
            continue
        if not annotations.has(param.name):
            diags.error(
                "E210",
                f"parameter '{param.name}' of {what} has no type annotation",
                span,
                f"{TYPES_HINT}, e.g. {param.name}: int",
            )
            ok = False
            continue
        try:
            ptype = tether_type(annotations.resolve(param.name))
        except UnsupportedAnnotation as exc:
            diags.error("E211", f"parameter '{param.name}' of {what}: {exc}", span, exc.hint)
            ok = False
            continue
        has_default = param.default is not param.empty
        result.append(Parameter(param.name, ptype, has_default, param.default if has_default else None))
    return result if ok else None


def _outputs(
    fn: Callable[..., Any], what: str, index: SourceIndex, diags: Diagnostics
) -> tuple[tuple[str, Type], ...] | None:
    code = fn.__code__
    annotations = _Annotations(fn)
    if not annotations.has("return"):
        diags.error(
            "E210",
            f"{what} has no return annotation",
            index.def_span(code),
            "annotate what it returns, e.g. -> int, or -> None when it returns nothing",
        )
        return None
    span = index.return_span(code)
    try:
        annotation = annotations.resolve("return")
    except UnsupportedAnnotation as exc:
        diags.error("E211", f"return type of {what}: {exc}", span, exc.hint)
        return None
    if annotation is None or annotation is type(None):
        return ()
    if _is_named_tuple(annotation):
        outputs: list[tuple[str, Type]] = []
        try:
            hints = typing.get_type_hints(annotation, include_extras=True)
        except Exception as exc:
            diags.error(
                "E211",
                f"fields of {annotation.__name__} cannot be resolved ({type(exc).__name__}: {exc})",
                span,
            )
            return None
        ok = True
        for name in annotation._fields:
            if name not in hints:
                diags.error(
                    "E210",
                    f"field '{name}' of {annotation.__name__} has no type annotation",
                    span,
                    "declare it with typing.NamedTuple: class Out(NamedTuple): name: int",
                )
                ok = False
                continue
            try:
                outputs.append((name, tether_type(hints[name])))
            except UnsupportedAnnotation as exc:
                diags.error("E211", f"output '{name}' of {what}: {exc}", span, exc.hint)
                ok = False
        return tuple(outputs) if ok else None
    try:
        return (("result", tether_type(annotation)),)
    except UnsupportedAnnotation as exc:
        diags.error("E211", f"return type of {what}: {exc}", span, exc.hint)
        return None


def python_ref(fn: Callable[..., Any]) -> str | None:
    """`module:function` as the runtime imports it; None for functions it cannot import."""
    qualname = getattr(fn, "__qualname__", "")
    if not qualname.isidentifier():  # a nested function, a method, a lambda
        return None
    return f"{fn.__module__}:{qualname}"


def task_interface(task: Any, index: SourceIndex, diags: Diagnostics) -> TaskInterface | None:
    """The interface of a `@tether.task`; None (with diagnostics) when any part is broken."""
    fn = task.__wrapped__
    what = f"task '{task.task_name}'"
    ref = python_ref(fn)
    ok = True
    if ref is None:
        diags.error(
            "E126",
            f"{what} is not a module-level function ({fn.__qualname__}); the runtime cannot import it",
            index.def_span(fn.__code__),
            "define tasks at module level",
        )
        ok = False
    params = _parameters(fn, what, index, diags)
    outputs = _outputs(fn, what, index, diags)
    if not ok or params is None or outputs is None:
        return None
    return TaskInterface(
        name=task.task_name,
        python=ref,  # type: ignore[arg-type]
        inputs={p.name: p.type for p in params},
        required=frozenset(p.name for p in params if not p.has_default),
        outputs=outputs,
    )


def workflow_return_types(workflow: Any, index: SourceIndex) -> tuple[dict[str, Type], bool]:
    """The output types a workflow's return annotation declares, and whether it is one plain type
    (the type of a single `result`) rather than a NamedTuple's named fields.

    A workflow needs no return annotation, and one tether cannot read declares nothing (it is
    not an error today), so problems here are not reported: only what it does declare is checked.
    """
    fn = workflow.__wrapped__
    if not _Annotations(fn).has("return"):
        return {}, False
    outputs = _outputs(fn, f"workflow '{workflow.workflow_name}'", index, Diagnostics())
    if not outputs:
        return {}, False
    annotation = _Annotations(fn).resolve("return")
    return dict(outputs), not _is_named_tuple(annotation)


def workflow_parameters(workflow: Any, index: SourceIndex, diags: Diagnostics) -> list[Parameter] | None:
    """The workflow's inputs, with defaults checked against their types."""
    fn = workflow.__wrapped__
    what = f"workflow '{workflow.workflow_name}'"
    params = _parameters(fn, what, index, diags)
    if params is None:
        return None
    checked: list[Parameter] = []
    for param in params:
        if param.has_default:
            default = json_value(param.default)
            if default is NOT_JSON:  # a JSON default of the wrong type is left to validation
                diags.error(
                    "E208",
                    f"default {param.default!r} of input '{param.name}' is not a {param.type}",
                    index.parameter_span(fn.__code__, param.name),
                    "a workflow input's default is a JSON value of its type",
                )
                param = Parameter(param.name, param.type, False, None)
            else:
                param = Parameter(param.name, param.type, True, default)
        checked.append(param)
    return checked
