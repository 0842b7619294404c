"""The `${{ ... }}` expression language: references, literals, comparisons, `in`, arithmetic,
`len`, and/or/not.

Expressions are parsed (`syntax`: one token set shared by a lark grammar and a lark-free fast
path) into small frozen nodes (`nodes`). Everything done with a parsed expression is a
`Generator` subclass with one method per node type (`generator`): the canonical spelling
`unparse`, the interpreter `evaluate` and `refs` (`render`), the validator's type inference,
and each backend's renderer.

References: `inputs.X`, `tasks.T.outputs.Y`, `item`, each optionally followed by `.key` or
`[index]` to reach into a dict or list value.
"""

from .generator import Generator
from .nodes import BinOp, Call, EvaluationError, Expr, ExprSyntaxError, Interp, ListExpr, Literal, Not, Ref, plain_value
from .render import evaluate, refs, to_template, unparse, unparse_ref
from .syntax import parse_expr
from .template import TemplatePiece, has_template, parse_template, split_template

__all__ = [
    "BinOp", "Call", "EvaluationError", "Expr", "ExprSyntaxError", "Generator", "Interp", "ListExpr", "Literal", "Not",
    "Ref", "TemplatePiece", "evaluate", "has_template", "parse_expr", "parse_template", "plain_value", "refs",
    "split_template", "to_template", "unparse", "unparse_ref",
]
