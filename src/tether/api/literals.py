"""Python values as the JSON data the IR keeps: task-call literals and workflow-input defaults.

One conversion for both, so `f(x=[1, 2])` in a workflow body and `def wf(x: list[int] = [1, 2])`
accept and refuse exactly the same values. Standard library only: the api layer imports it
without the compiler.
"""

from __future__ import annotations

from typing import Any, Callable

NOT_JSON = object()
"""Returned for a value with no JSON form (a set, an object, a dict with non-str keys, ...)."""


def json_value(value: Any, sequence: Callable[[list[Any]], Any] = list) -> Any:
    """`value` as JSON data, or NOT_JSON. str subclasses (tether.File) become plain str.

    Lists and tuples outside dicts are built with `sequence`: the IR keeps a Literal's lists as
    tuples (hashable, as `ir.from_json` reads them) but a default's as lists; inside a dict the
    IR keeps plain JSON, so lists there are always lists.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [json_value(item, sequence) for item in value]
        return NOT_JSON if any(item is NOT_JSON for item in items) else sequence(items)
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        plain = {key: json_value(item) for key, item in value.items()}
        return NOT_JSON if any(item is NOT_JSON for item in plain.values()) else plain
    return NOT_JSON
