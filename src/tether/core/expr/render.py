"""The language's own Generators: the canonical spelling (`unparse`), the references in an
expression (`refs`), and the interpreter over JSON values (`evaluate`).

There is no Python `eval` anywhere: an expression can only read references.
"""

from __future__ import annotations

import json
import re
from typing import Callable

from .generator import Generator
from .nodes import BinOp, Call, EvaluationError, Expr, Interp, ListExpr, Literal, Not, Ref, plain_value
from .syntax import KEYWORDS

_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT, _COMPARISON, _ADDITIVE, _MULTIPLICATIVE, _ATOM = 3, 4, 5, 6, 7
_PRECEDENCE = {"or": 1, "and": 2, "+": _ADDITIVE, "-": _ADDITIVE, "*": _MULTIPLICATIVE, "/": _MULTIPLICATIVE,
               "//": _MULTIPLICATIVE, "%": _MULTIPLICATIVE}  # any other operator is a comparison


def unparse_ref(ref: Ref) -> str:
    if ref.root == "item":
        text = "item"
    elif ref.root == "inputs":
        text = f"inputs.{ref.name}"
    else:
        text = f"tasks.{ref.task}.outputs.{ref.name}"
    for step in ref.path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if _is_attribute(step) else f"[{json.dumps(step, ensure_ascii=False)}]"
    return text


def _is_attribute(step: str) -> bool:
    """Can `.step` spell this key? ASCII identifiers other than the language's keywords."""
    return _ATTRIBUTE.fullmatch(step) is not None and step not in KEYWORDS


def _level(expr: Expr) -> int:
    if isinstance(expr, BinOp):
        return _PRECEDENCE.get(expr.op, _COMPARISON)
    return _NOT if isinstance(expr, Not) else _ATOM


class Unparser(Generator[str]):
    """The canonical spelling, with the fewest parentheses that parse back to the same tree."""

    def literal(self, node: Literal) -> str:
        return json.dumps(plain_value(node.value), sort_keys=True, ensure_ascii=False)

    def ref(self, node: Ref) -> str:
        return unparse_ref(node)

    def list_expr(self, node: ListExpr) -> str:
        return "[" + ", ".join(self.visit(i) for i in node.items) + "]"

    def not_(self, node: Not) -> str:
        return "not " + self.operand(node.operand, _NOT)

    def binop(self, node: BinOp) -> str:
        level = _level(node)
        # The right operand binds tighter (and/or and arithmetic group to the left), and a
        # comparison's operands bind tighter than it (comparisons do not chain), so both
        # round-trip exactly.
        left = self.operand(node.left, level + 1 if level == _COMPARISON else level)
        return f"{left} {node.op} {self.operand(node.right, level + 1)}"

    def call(self, node: Call) -> str:
        return f"{node.name}(" + ", ".join(self.visit(a) for a in node.args) + ")"

    def interp(self, node: Interp) -> str:
        return "".join(p if isinstance(p, str) else "${{ " + self.visit(p) + " }}" for p in node.parts)

    def operand(self, expr: Expr, weakest: int) -> str:
        """`expr` inside an operator: in parentheses when it binds more loosely than `weakest`."""
        text = self.visit(expr)
        return f"({text})" if _level(expr) < weakest else text


class RefCollector(Generator[None]):
    """Every reference, in source order (the order validators number them in spans: `KEY@K`)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Ref] = []

    def literal(self, node: Literal) -> None:
        pass

    def ref(self, node: Ref) -> None:
        self.found.append(node)

    def not_(self, node: Not) -> None:
        self.visit(node.operand)

    def binop(self, node: BinOp) -> None:
        self.visit(node.left)
        self.visit(node.right)

    def call(self, node: Call) -> None:
        for arg in node.args:
            self.visit(arg)

    def list_expr(self, node: ListExpr) -> None:
        for item in node.items:
            self.visit(item)

    def interp(self, node: Interp) -> None:
        for part in node.parts:
            if not isinstance(part, str):
                self.visit(part)


class Evaluator(Generator[object]):
    """Evaluation over JSON values; `resolve` gives the value of a reference's root (path excluded)."""

    def __init__(self, resolve: Callable[[Ref], object]) -> None:
        super().__init__()
        self.resolve = resolve

    def literal(self, node: Literal) -> object:
        return plain_value(node.value)

    def ref(self, node: Ref) -> object:
        value = self.resolve(Ref(node.root, node.name, node.task))
        for step in node.path:
            try:
                value = value[step]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise EvaluationError(f"{unparse_ref(node)}: no element {step!r}") from None
        return value

    def list_expr(self, node: ListExpr) -> object:
        return [self.visit(i) for i in node.items]

    def not_(self, node: Not) -> object:
        return not self.visit(node.operand)

    def interp(self, node: Interp) -> object:
        return "".join(p if isinstance(p, str) else _to_text(self.visit(p)) for p in node.parts)

    def binop(self, node: BinOp) -> object:
        op = node.op
        if op == "and":
            return bool(self.visit(node.left)) and bool(self.visit(node.right))
        if op == "or":
            return bool(self.visit(node.left)) or bool(self.visit(node.right))
        left, right = self.visit(node.left), self.visit(node.right)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op in ("in", "not in"):
            return _contains(right, left, op) == (op == "in")
        if op in _ARITHMETIC:
            return _arithmetic(op, left, right)
        try:
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]  # type: ignore[operator]
        except TypeError:
            raise EvaluationError(f"cannot compare {left!r} {op} {right!r}") from None


    def call(self, node: Call) -> object:
        value = self.visit(node.args[0])  # len, the only function
        if isinstance(value, (list, dict, str)):
            return len(value)
        raise EvaluationError(f"len() needs a list, a dict or a string, not {value!r}")


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "//": lambda a, b: a // b, "%": lambda a, b: a % b,
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _arithmetic(op: str, left: object, right: object) -> object:
    """Python's arithmetic on JSON numbers: `/` gives a float, `//` and `%` floor, as in Python."""
    if not (_is_number(left) and _is_number(right)):
        raise EvaluationError(f"cannot compute {left!r} {op} {right!r}: '{op}' needs two numbers")
    try:
        return _ARITHMETIC[op](left, right)  # type: ignore[arg-type]
    except ZeroDivisionError:
        raise EvaluationError(f"division by zero: {left!r} {op} {right!r}") from None


def _contains(container: object, element: object, op: str) -> bool:
    """`in` over a list (an equal item), a dict (a key) or a string (a substring)."""
    if isinstance(container, list):
        return any(element == item for item in container)
    if isinstance(container, dict) or (isinstance(container, str) and isinstance(element, str)):
        return element in container  # type: ignore[operator]
    raise EvaluationError(f"cannot evaluate {element!r} {op} {container!r}")


def _to_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def unparse(expr: Expr) -> str:
    """The canonical spelling of an expression (without the `${{ }}`)."""
    return Unparser().visit(expr)


def to_template(expr: Expr) -> str:
    """The string a spec would hold for this expression: `${{ ... }}`, or the interpolation."""
    if isinstance(expr, Interp):
        return unparse(expr)
    return "${{ " + unparse(expr) + " }}"


def refs(expr: Expr) -> list[Ref]:
    """Every reference in an expression, in source order."""
    if isinstance(expr, Ref):  # the common case, without building a collector
        return [expr]
    collector = RefCollector()
    collector.visit(expr)
    return collector.found


def evaluate(expr: Expr, resolve: Callable[[Ref], object]) -> object:
    """Evaluate over JSON values. `resolve` returns the value of a reference's root (path excluded)."""
    return Evaluator(resolve).visit(expr)
