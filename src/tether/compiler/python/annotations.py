"""Python annotations -> tether types: the one table both Python readers use, the decorator
front end (interface.py, on live annotations) and the reference checker (python_refs.py, on
annotations rebuilt from `ast`). It imports nothing heavy: `tether check` of a YAML spec loads it
without the decorator machinery."""

from __future__ import annotations

import types
import typing
from typing import Any

from ...api.files import Dir, File
from ...core.types import BOOL, DIR, FILE, FLOAT, INT, STR, Type, dict_of, list_of

_SCALARS: dict[Any, Type] = {int: INT, float: FLOAT, bool: BOOL, str: STR, File: FILE, Dir: DIR}

TYPES_HINT = (
    "annotate with int, float, bool, str, tether.File, tether.Dir, list[T], dict[str, T] or Optional[T]"
)


class UnsupportedAnnotation(ValueError):
    def __init__(self, message: str, hint: str = TYPES_HINT):
        super().__init__(message)
        self.hint = hint


def _spelling(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def tether_type(annotation: Any) -> Type:
    """The tether type of a resolved annotation; raises UnsupportedAnnotation with a hint."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return tether_type(args[0])
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1 and len(present) < len(args):
            return tether_type(present[0]).as_optional()
        raise UnsupportedAnnotation(
            f"'{_spelling(annotation)}' is a union; only Optional[T] (T | None) is supported",
            "pass one type; use a str or a dict for values of several shapes",
        )
    if origin is list or annotation is list:
        if len(args) != 1:
            raise UnsupportedAnnotation("'list' needs its element type", "write list[int], list[str], ...")
        return list_of(tether_type(args[0]))
    if origin is dict or annotation is dict:
        if len(args) != 2:
            raise UnsupportedAnnotation("'dict' needs its key and value types", "write dict[str, float], ...")
        if args[0] is not str:
            raise UnsupportedAnnotation(
                f"dict keys must be str, not {_spelling(args[0])}",
                "JSON objects only have string keys: use dict[str, T]",
            )
        return dict_of(tether_type(args[1]))
    if origin is tuple or annotation is tuple:
        raise UnsupportedAnnotation(
            f"'{_spelling(annotation)}' is not a tether type",
            "use list[T], or a NamedTuple for several outputs",
        )
    if annotation is typing.Any:
        raise UnsupportedAnnotation("'Any' has no tether type", TYPES_HINT)
    if isinstance(annotation, type) and annotation.__module__ == "pathlib":
        raise UnsupportedAnnotation(
            f"'{annotation.__name__}' is not a tether type",
            "use tether.File for a file or tether.Dir for a directory",
        )
    raise UnsupportedAnnotation(f"'{_spelling(annotation)}' is not a tether type")


__all__ = ["TYPES_HINT", "UnsupportedAnnotation", "tether_type"]
