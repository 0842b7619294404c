"""A task's result as its declared outputs: JSON values checked against the declared types.

A Python task with one output returns the value; with several it returns a NamedTuple or a dict
with the declared names (a plain tuple is refused: the IR keeps outputs sorted by name, so a
positional tuple could silently land in the wrong outputs). `file` and `dir` values are path
strings; a `pathlib.Path` is accepted and stored as its string. A value that does not fit its
type fails the attempt as fatal here, with the output's name, rather than a downstream task
failing later on a value it never expected.
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any, Mapping

from .inputs import coerce

if TYPE_CHECKING:
    from ..core.ir import Task


MAX_VALUE_DEPTH = 100
"""How deeply lists and objects may nest in a value crossing a boundary (a task output, `-p`):
deeper values would exhaust the stack of every reader (json, type checks, expressions)."""


def json_value_problem(value: Any) -> str | None:
    """Why `value` cannot be stored as standard JSON (a non-finite float, nesting deeper than
    MAX_VALUE_DEPTH), else None. Iterative, so a value 100,000 levels deep is refused, not a crash.

    RFC 8259 section 6 has no NaN or Infinity, and strict parsers reject Python's `NaN`:
    https://www.rfc-editor.org/rfc/rfc8259#section-6
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item!r} is not a finite number (JSON has no NaN or Infinity)"
        if isinstance(item, (str, bytes, os.PathLike)):
            continue
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth >= MAX_VALUE_DEPTH:
            return f"it nests lists and objects deeper than {MAX_VALUE_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


class OutputError(Exception):
    """The task's result does not match its declared outputs (fatal: a retry returns the same)."""


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_asdict") and hasattr(value, "_fields")


def outputs_from_return(task: "Task", value: Any) -> dict[str, Any]:
    """Map a Python task's return value onto its declared output names."""
    names = [o.name for o in task.outputs]
    if not names:
        return {}
    if len(names) == 1:
        if _is_namedtuple(value) and tuple(value._fields) == tuple(names):
            return {names[0]: getattr(value, names[0])}
        return {names[0]: value}
    if _is_namedtuple(value):
        mapping: Mapping[str, Any] = value._asdict()
    elif isinstance(value, Mapping):
        mapping = value
    else:
        raise OutputError(
            f"{task.name} declares outputs {', '.join(names)}, so it must return a NamedTuple or a dict "
            f"with those names; it returned {type(value).__name__}"
        )
    missing = [n for n in names if n not in mapping]
    extra = sorted(str(k) for k in mapping if k not in names)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"undeclared {', '.join(extra)}")
        raise OutputError(f"{task.name} returned outputs that do not match its declaration: {'; '.join(parts)}")
    return {n: mapping[n] for n in names}


def _to_json(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if _is_namedtuple(value):
        return {k: _to_json(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def validate_outputs(task: "Task", outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs as JSON values, each checked against its declared type."""
    from ..core.types import accepts_value

    checked: dict[str, Any] = {}
    for output in task.outputs:
        if output.name not in outputs:
            raise OutputError(f"{task.name} did not produce its output {output.name!r}")
        problem = json_value_problem(outputs[output.name])
        if problem is not None:
            raise OutputError(f"output {output.name!r} of {task.name} cannot be stored: {problem}")
        value = _to_json(outputs[output.name])
        if not accepts_value(output.type, value):
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise OutputError(
                f"output {output.name!r} of {task.name} must be {output.type}, got {shown} ({type(value).__name__})"
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise OutputError(f"output {output.name!r} of {task.name} is not a JSON value: {exc}") from None
        checked[output.name] = coerce(value, output.type)
    return checked
