"""The nodes of a parsed `${{ }}` expression: small frozen values, hashable, compared by meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Literal:
    value: object  # a JSON value: None, bool, int, float, str, list, dict (as tuples for hashing)


@dataclass(frozen=True)
class Ref:
    """A reference. root is 'inputs', 'tasks' or 'item'; `path` reaches into the value."""

    root: str
    name: str | None = None  # the input name, or the output name for 'tasks'
    task: str | None = None  # the task name, for 'tasks'
    path: tuple[Union[str, int], ...] = ()
    column: int = 1  # 1-based column inside the expression text, for diagnostics

    def __eq__(self, other: object) -> bool:  # column is position, not meaning
        if not isinstance(other, Ref):
            return NotImplemented
        return (self.root, self.name, self.task, self.path) == (other.root, other.name, other.task, other.path)

    def __hash__(self) -> int:
        return hash((self.root, self.name, self.task, self.path))


@dataclass(frozen=True)
class Not:
    operand: "Expr"


@dataclass(frozen=True)
class BinOp:
    op: str  # and, or; == != < <= > >= in, not in; + - * / // %
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Call:
    """A call of one of the language's functions (`len(x)`); `name` is checked by the parser."""

    name: str
    args: tuple["Expr", ...]


@dataclass(frozen=True)
class ListExpr:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Interp:
    """A string with `${{ }}` parts interpolated in it; always of type str."""

    parts: tuple[Union[str, "Expr"], ...]


Expr = Union[Literal, Ref, Not, BinOp, Call, ListExpr, Interp]


class ExprSyntaxError(ValueError):
    """An expression that does not parse; `column` is 1-based within the expression text."""

    def __init__(self, message: str, column: int = 1, hint: str | None = None):
        super().__init__(message)
        self.column = column
        self.hint = hint


class EvaluationError(ValueError):
    """Evaluation failed at run time (a missing key, an index out of range, an ordering of mixed
    types, a division by zero)."""


def plain_value(value: object) -> object:
    """A Literal's value as plain JSON data: the tuples that keep Literals hashable become lists."""
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value
