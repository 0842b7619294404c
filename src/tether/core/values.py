"""Engine text: how one typed value travels through a workflow engine's parameters.

Argo substitutes `{{workflow.parameters.x}}`, `{{item}}` and output parameters as plain text,
and AWS Batch passes command arguments as text. So that the same text means the same value on
every engine, a value is written as:

- a non-null `str`, `file` or `dir` value: its raw text (what `argo submit -p x=foo` gives for
  `{{workflow.parameters.x}}`, and `{{item}}` for a string item);
- anything else (numbers, bools, lists, dicts, null): compact JSON, keys sorted, no NaN.

Decoding needs the declared type, because "42" is the string `42` for a `str` but the number
42 for an `int`. For an optional string type (`str?`) the text `null` is None: a string whose
text is exactly "null" cannot travel in an optional string, which is the price of raw text.
Argo's aggregated outputs of a fan-out (`{{tasks.t.outputs.parameters.y}}` over `withParam`)
are a JSON list of the items' parameter texts, so a list whose elements arrive as strings while
their type is not a string type is decoded element by element as engine text too.
"""

from __future__ import annotations

import json
from typing import Any

from .types import Type

_RAW_KINDS = frozenset({"str", "file", "dir"})


class ValueTextError(ValueError):
    """Text that is not a value of the expected type's engine encoding."""


def is_raw(type_: Type | None, value: Any) -> bool:
    """Is `value` written as raw text? Without a type, any string is (as Argo's `{{item}}`)."""
    if value is None or not isinstance(value, str):
        return False
    return type_ is None or type_.kind in _RAW_KINDS


def encode_text(value: Any, type_: Type | None) -> str:
    """The engine text of `value` (see the module docstring). Raises ValueTextError for NaN/inf."""
    if is_raw(type_, value):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise ValueTextError(f"{value!r} has no JSON form (NaN and infinities are not values)") from None
    except TypeError as exc:
        raise ValueTextError(f"not a JSON value: {exc}") from None


def decode_text(text: str, type_: Type | None) -> Any:
    """The value engine text `text` stands for, given its declared type (None: JSON, else the text)."""
    if type_ is None:
        try:
            return _loads(text)
        except (json.JSONDecodeError, ValueTextError):
            return text
    if type_.kind in _RAW_KINDS:
        return None if type_.optional and text == "null" else text
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        raise ValueTextError(f"{_clip(text)!r} is not a {type_} value: {exc.msg}") from None
    return _from_strings(value, type_)


def _from_strings(value: Any, type_: Type) -> Any:
    """Elements that arrived as engine text inside a JSON list (Argo's aggregated outputs)."""
    if type_.kind == "list" and isinstance(value, list):
        element = type_.args[0]
        return [
            decode_text(v, element) if isinstance(v, str) and element.kind not in _RAW_KINDS else _from_strings(v, element)
            for v in value
        ]
    return value


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueTextError(f"{name} is not a value (NaN and infinities have no JSON form)")


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["ValueTextError", "decode_text", "encode_text", "is_raw"]
