"""The expression Generator: one method per node type, and what a target cannot express is
recorded by `unsupported(node, why)` while rendering goes on."""

from __future__ import annotations

import json

import pytest

from tether.core.expr import BinOp, Expr, Generator, Interp, ListExpr, Literal, Not, Ref, parse_expr, parse_template
from tether.core.expr.render import Evaluator, RefCollector, Unparser


class ShellTest(Generator[str]):
    """A small example target: a `test`-like infix language with no list values and no `item`."""

    def literal(self, node: Literal) -> str:
        return json.dumps(node.value)

    def ref(self, node: Ref) -> str:
        if node.root == "item":
            return self.unsupported(node, "this target has no per-item values")
        return "$" + (node.name if node.root == "inputs" else f"{node.task}_{node.name}")

    def not_(self, node: Not) -> str:
        return f"! ({self.visit(node.operand)})"

    def binop(self, node: BinOp) -> str:
        op = {"and": "&&", "or": "||"}.get(node.op, node.op)
        return f"({self.visit(node.left)} {op} {self.visit(node.right)})"

    def list_expr(self, node: ListExpr) -> str:
        return self.unsupported(node, "this target has no list values")

    def placeholder(self, node: Expr) -> str:
        return "<unsupported>"


def test_a_target_renders_what_it_can_and_collects_what_it_cannot() -> None:
    target = ShellTest()
    text = target.visit(parse_expr("inputs.n > 2 and not tasks.a.outputs.ok or inputs.mode == [1, 2] or item == 1"))
    assert text == "(((($n > 2) && ! ($a_ok)) || ($mode == <unsupported>)) || (<unsupported> == 1))"
    assert [(type(node).__name__, why) for node, why in target.unsupported_nodes] == [
        ("ListExpr", "this target has no list values"),
        ("Ref", "this target has no per-item values"),
    ]
    item = target.unsupported_nodes[1][0]
    assert isinstance(item, Ref) and item.column == len("inputs.n > 2 and not tasks.a.outputs.ok or inputs.mode == [1, 2] or ") + 1


def test_a_node_method_a_target_leaves_out_is_unsupported() -> None:
    target = ShellTest()
    interp = parse_template("run-${{ inputs.n }}")
    assert isinstance(interp, Interp)
    assert target.visit(interp) == "<unsupported>"
    assert target.unsupported_nodes == [(interp, "interpolated strings are not supported")]
    bare: Generator[object] = Generator()
    assert bare.visit(Literal(1)) is None and bare.unsupported_nodes == [(Literal(1), "literal values are not supported")]


def test_visit_refuses_what_is_not_an_expression() -> None:
    with pytest.raises(TypeError, match="not an expression"):
        ShellTest().visit("inputs.x")  # type: ignore[arg-type]


def test_the_language_itself_is_written_as_generators() -> None:
    expr = parse_template("${{ inputs.a and (inputs.b or not tasks.t.outputs.c) }}")
    assert Unparser().visit(expr) == "inputs.a and (inputs.b or not tasks.t.outputs.c)"
    collector = RefCollector()
    collector.visit(expr)
    assert [r.name for r in collector.found] == ["a", "b", "c"]
    values = {"a": True, "b": False, "c": False}
    assert Evaluator(lambda ref: values[ref.name or ""]).visit(expr) is True
    for generator in (Unparser(), collector):
        assert generator.unsupported_nodes == []
