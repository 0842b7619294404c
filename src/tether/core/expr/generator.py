"""One visitor for every use of an expression: a method per node type (sqlglot's Generator is the model).

unparse, evaluate, refs, the validator's type inference and each backend's renderer are
subclasses. A target that cannot express a node calls `unsupported(node, why)`, which records
the pair in `unsupported_nodes` (the caller turns each into a located diagnostic) and returns
`placeholder(node)`, so one pass reports everything a target lacks. A node method left
unimplemented is unsupported by default.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar, cast

from .nodes import BinOp, Call, Expr, Interp, ListExpr, Literal, Not, Ref

T = TypeVar("T")

_METHODS: dict[type, str] = {
    Literal: "literal", Ref: "ref", Not: "not_", BinOp: "binop", Call: "call", ListExpr: "list_expr",
    Interp: "interp",
}


class Generator(Generic[T]):
    """Dispatches each node to the method of its class; subclasses render, evaluate or collect."""

    def __init__(self) -> None:
        self.unsupported_nodes: list[tuple[Expr, str]] = []

    def visit(self, expr: Expr) -> T:
        name = _METHODS.get(type(expr))
        if name is None:
            raise TypeError(f"not an expression: {expr!r}")
        method: Callable[[Expr], T] = getattr(self, name)
        return method(expr)

    def literal(self, node: Literal) -> T:
        return self.unsupported(node, "literal values are not supported")

    def ref(self, node: Ref) -> T:
        return self.unsupported(node, "references are not supported")

    def not_(self, node: Not) -> T:
        return self.unsupported(node, "'not' is not supported")

    def binop(self, node: BinOp) -> T:
        return self.unsupported(node, f"the operator '{node.op}' is not supported")

    def call(self, node: Call) -> T:
        return self.unsupported(node, f"the function '{node.name}' is not supported")

    def list_expr(self, node: ListExpr) -> T:
        return self.unsupported(node, "list expressions are not supported")

    def interp(self, node: Interp) -> T:
        return self.unsupported(node, "interpolated strings are not supported")

    def unsupported(self, node: Expr, why: str) -> T:
        """Record that this target cannot express `node` (and why); go on with a placeholder."""
        self.unsupported_nodes.append((node, why))
        return self.placeholder(node)

    def placeholder(self, node: Expr) -> T:
        """What an unsupported node renders as; None unless a subclass says otherwise."""
        return cast(T, None)
