"""`when` as Argo evaluates it: govaluate over the text left after `{{...}}` substitution.

Argo substitutes the tags of a DAG task's `when` and hands the text to govaluate, turning
every bare word into a string (`shouldExecute` in
https://github.com/argoproj/argo-workflows/blob/main/workflow/controller/steps.go). So the
rendering is only exact when every substituted value lexes as one govaluate token of the right
kind: a non-optional `int` (a JSON integer) or `bool` (`true`/`false`) reference, compared with
integer or boolean literals, joined by `&& || !` (govaluate's OperatorSymbol.go,
https://github.com/Knetic/govaluate/blob/master/OperatorSymbol.go). A string value may hold a
quote and a float may print as `1e-05`, which govaluate would misread, so anything else is
reported as unsupported and the backend asks `tether exec --decide` instead.

The other forms, from govaluate's MANUAL.md and evaluationStage.go
(https://github.com/Knetic/govaluate/blob/master/MANUAL.md,
https://github.com/Knetic/govaluate/blob/master/evaluationStage.go): numbers are float64, so
`+ - *` and comparisons are exact while every value stays within 2**53 (literals beyond are not
rendered; an int *reference* holding more, or a sum exceeding it, is compared rounded: a known
limit, stated in the README, accepted rather than a decide pod per int `when`);
`/` is float64 division, exact except by zero (govaluate gives +Inf where tether fails), so only
a nonzero literal divisor is rendered; `%` is `math.Mod`, whose sign follows the dividend,
unlike Python's floor modulo, and `//` and `len` do not exist, so those three are unsupported.
`x in [a, b]` is govaluate's `in` over an array `(a, b)` (`inStage`: `==` on each item); an
array needs two items or more (the `,` separator), so one item is rendered as `==`.
"""

from __future__ import annotations

from typing import Callable

from ..core.expr import BinOp, Call, Expr, Interp, ListExpr, Literal, Not, Ref
from ..core.expr.generator import Generator
from ..core.types import Type

_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_EXACT_ARITHMETIC = frozenset({"+", "-", "*"})
_SAFE_KINDS = frozenset({"int", "bool"})


class GovaluateWhen(Generator[str]):
    """Render a `when` expression for Argo; `unsupported_nodes` lists what it cannot express.

    `argo_ref(ref)` gives the Argo tag for a whole-value reference (or None when Argo has none),
    `type_of(ref)` its declared type.
    """

    def __init__(self, argo_ref: Callable[[Ref], str | None], type_of: Callable[[Ref], Type | None]) -> None:
        super().__init__()
        self._argo_ref = argo_ref
        self._type_of = type_of

    def placeholder(self, node: Expr) -> str:
        return "false"

    def literal(self, node: Literal) -> str:
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int) and abs(value) < 2**53:  # govaluate numbers are float64
            return str(value)
        return self.unsupported(node, f"the literal {value!r} has no exact govaluate spelling after substitution")

    def ref(self, node: Ref) -> str:
        type_ = self._type_of(node)
        if node.path or type_ is None or type_.optional or type_.kind not in _SAFE_KINDS:
            return self.unsupported(node, "only whole int or bool references substitute to one govaluate token")
        tag = self._argo_ref(node)
        if tag is None:
            return self.unsupported(node, "Argo has no parameter for this reference")
        return tag

    def not_(self, node: Not) -> str:
        return f"!({self.visit(node.operand)})"

    def binop(self, node: BinOp) -> str:
        if node.op in ("in", "not in"):
            return self.membership(node)
        if node.op in ("//", "%"):
            return self.unsupported(node, f"govaluate has no '{node.op}' with Python's (floor) semantics")
        if node.op == "/" and not _nonzero_literal(node.right):
            return self.unsupported(node, "govaluate divides by zero without failing; only a nonzero literal divisor is exact")
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in _EXACT_ARITHMETIC or node.op == "/":
            return f"({left} {node.op} {right})"
        if node.op == "and":
            return f"({left} && {right})"
        if node.op == "or":
            return f"({left} || {right})"
        if node.op in _COMPARISONS:
            return f"{left} {node.op} {right}"
        return self.unsupported(node, f"the operator '{node.op}'")

    def membership(self, node: BinOp) -> str:
        items = node.right
        if not isinstance(items, ListExpr) or not items.items:
            return self.unsupported(node, "'in' is rendered only over a written, non-empty list")
        left = self.visit(node.left)
        rendered = [self.visit(item) for item in items.items]
        if len(rendered) == 1:
            test = f"{left} == {rendered[0]}"
        else:
            test = f"{left} in ({', '.join(rendered)})"
        return f"!({test})" if node.op == "not in" else f"({test})"

    def call(self, node: Call) -> str:
        return self.unsupported(node, f"govaluate has no {node.name}()")

    def list_expr(self, node: ListExpr) -> str:
        return self.unsupported(node, "list values cannot be compared after substitution")

    def interp(self, node: Interp) -> str:
        return self.unsupported(node, "interpolated strings may hold quotes govaluate would misread")


def render_when(expr: Expr, argo_ref: Callable[[Ref], str | None], type_of: Callable[[Ref], Type | None]) -> str | None:
    """The Argo `when` text, or None when govaluate cannot evaluate `expr` exactly."""
    renderer = GovaluateWhen(argo_ref, type_of)
    text = renderer.visit(expr)
    if renderer.unsupported_nodes:
        return None
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    return text


def _nonzero_literal(expr: Expr) -> bool:
    value = expr.value if isinstance(expr, Literal) else None
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += c == "("
        depth -= c == ")"
        if depth < 0:
            return False
    return depth == 0


__all__ = ["GovaluateWhen", "render_when"]
