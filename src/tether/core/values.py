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

Where the text lands in a Kubernetes container's args (Argo), it is also escaped for the kubelet
(`escape_for_kubernetes`, `encode_for_kubernetes`), whose `$(VAR)` expansion restores it exactly.
"""

from __future__ import annotations

import json
from typing import Any

from .types import Type

_RAW_KINDS = frozenset({"str", "file", "dir"})

LBRACE_ENV = "TETHER_LBRACE"
"""The container env variable defined as `{` wherever escaped text reaches args."""
_LBRACE_VAR = f"$({LBRACE_ENV})"


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


def escape_for_kubernetes(text: str) -> str:
    """`text` as written in container args so the process gets `text`, and Argo sees no `{{`.

    The kubelet expands `$(VAR)` and reduces `$$` to `$` in args, in one pass (the Container
    API's `args`: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#entrypoint),
    so `$` -> `$$` and `{` -> `$(TETHER_LBRACE)` (defined as `{` in the container) is undone
    exactly, and no `{` is left for Argo to read as a tag when it scans the text again.
    """
    return text.replace("$", "$$").replace("{", _LBRACE_VAR)


def encode_for_kubernetes(value: Any, type_: Type | None) -> str:
    """`encode_text`, escaped for container args: raw text whole, JSON in each string (keys too).

    JSON keeps its structure, so Argo still reads a list or a map as one when it aggregates a
    fan-out's outputs (`tryJSONUnmarshal`, workflow/controller/operator.go); its own `{` is always
    followed by `"` or `}`, never `{`, and it holds no `$` outside strings.
    """
    if is_raw(type_, value):
        return escape_for_kubernetes(str(value))
    return encode_text(_escape_strings(value), type_)


def _escape_strings(value: Any) -> Any:
    if isinstance(value, str):
        return escape_for_kubernetes(value)
    if isinstance(value, (list, tuple)):
        return [_escape_strings(v) for v in value]
    if isinstance(value, dict):
        return {escape_for_kubernetes(str(k)): _escape_strings(v) for k, v in value.items()}
    return value


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


__all__ = ["LBRACE_ENV", "ValueTextError", "decode_text", "encode_for_kubernetes", "encode_text", "escape_for_kubernetes", "is_raw"]
