"""The `${{ ... }}` expression language: references, literals, comparisons, and/or/not.

Expressions are parsed by a lark grammar into small frozen AST values, printed back in one
canonical spelling (`unparse`), and evaluated by a tiny interpreter (`evaluate`) over JSON
values. There is no Python `eval` anywhere: an expression can only read references.

References: `inputs.X`, `tasks.T.outputs.Y`, `item`, each optionally followed by `.key` or
`[index]` to reach into a dict or list value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Union

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)*        -> or_
?and_expr: not_expr ("and" not_expr)*      -> and_
?not_expr: "not" not_expr                  -> not_
         | comparison
?comparison: atom (COMP atom)?             -> compare
?atom: ref
     | literal
     | "(" or_expr ")"
     | "[" [or_expr ("," or_expr)*] "]"    -> list_lit
ref: NAME accessor*
?accessor: "." NAME                        -> attr
         | "[" (SIGNED_INT | STRING) "]"   -> index
literal: SIGNED_NUMBER -> number
       | STRING        -> string
       | "true"        -> true
       | "false"       -> false
       | "null"        -> null
COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
NAME: /(?!(and|or|not|true|false|null)(?![A-Za-z0-9_-]))[A-Za-z_][A-Za-z0-9_-]*/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
%import common.SIGNED_NUMBER
%import common.SIGNED_INT
%ignore /[ \t\r\n]+/
"""


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
    op: str  # and, or, ==, !=, <, <=, >, >=
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class ListExpr:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Interp:
    """A string with `${{ }}` parts interpolated in it; always of type str."""

    parts: tuple[Union[str, "Expr"], ...]


Expr = Union[Literal, Ref, Not, BinOp, ListExpr, Interp]


class ExprSyntaxError(ValueError):
    """An expression that does not parse; `column` is 1-based within the expression text."""

    def __init__(self, message: str, column: int = 1, hint: str | None = None):
        super().__init__(message)
        self.column = column
        self.hint = hint


_HINT = (
    "references are inputs.NAME, tasks.TASK.outputs.NAME and item; "
    "operators are == != < <= > >= and or not"
)


@lru_cache(maxsize=1)
def _parser():  # type: ignore[no-untyped-def]
    from .grammars import build_lalr

    return build_lalr(_GRAMMAR, propagate_positions=True)


_SIMPLE_REF = re.compile(r"\s*(inputs\.[A-Za-z_][A-Za-z0-9_]*|tasks\.[A-Za-z0-9_-]+\.outputs\.[A-Za-z_][A-Za-z0-9_]*|item)\s*$")


_REF_TEXT = (
    r"(?:inputs\.[A-Za-z_][A-Za-z0-9_]*|tasks\.[A-Za-z_][A-Za-z0-9_-]*\.outputs\.[A-Za-z_][A-Za-z0-9_]*|item)"
    r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*"
)
_OPERAND = rf"({_REF_TEXT})|(-?[0-9]+(?:\.[0-9]+)?)|\"([^\"\\]*)\"|'([^'\\]*)'|(true|false|null)"
_SIMPLE_COMPARISON = re.compile(rf"\s*(?:{_OPERAND})\s*(==|!=|<=|>=|<|>)\s*(?:{_OPERAND})\s*$")
_LITERAL_WORDS = {"true": True, "false": False, "null": None}


def _fast_operand(match: re.Match[str], first: int) -> Expr | None:
    """One operand of a simple comparison, from the groups starting at `first`."""
    ref, number, dquoted, squoted, keyword = (match.group(first + i) for i in range(5))
    if ref is not None:
        parts: list[str | int] = []
        for piece in re.findall(r"[^.\[\]]+|\[[0-9]+\]", ref):
            parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
        if any(p in _LITERAL_WORDS or p in ("and", "or", "not") for p in parts if isinstance(p, str)):
            return None  # keyword-named keys: leave them to the grammar
        return _make_ref(parts, match.start(first) + 1)
    if number is not None:
        return Literal(float(number) if "." in number else int(number))
    if dquoted is not None or squoted is not None:
        return Literal(dquoted if dquoted is not None else squoted)
    return Literal(_LITERAL_WORDS[keyword])


def _parse_simple(text: str) -> Expr | None:
    """Plain references and `operand OP operand` without lark, so common specs never load it.

    Returns None for anything else; the lark grammar remains the definition of the language
    (tests hold the two to the same result on every expression this path accepts).
    """
    simple = _SIMPLE_REF.match(text)
    if simple:
        return _make_ref(simple.group(1).split("."), simple.start(1) + 1)
    match = _SIMPLE_COMPARISON.match(text)
    if match is None:
        return None
    left, right = _fast_operand(match, 1), _fast_operand(match, 7)
    if left is None or right is None:
        return None
    return BinOp(match.group(6), left, right)


@lru_cache(maxsize=65536)
def parse_expr(text: str) -> Expr:
    """Parse the inside of `${{ }}`. Raises ExprSyntaxError with a column and a hint."""
    simple = _parse_simple(text)
    if simple is not None:
        return simple
    return _parse_with_grammar(text)


def _parse_with_grammar(text: str) -> Expr:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

    if not text.strip():
        raise ExprSyntaxError("empty expression", 1, _HINT)
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        raise ExprSyntaxError("unexpected end of expression", len(text) + 1, _HINT) from None
    except UnexpectedCharacters as exc:
        raise ExprSyntaxError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.column, _HINT) from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        shown = f"unexpected {str(token)!r}" if token is not None and str(token) else "unexpected end of expression"
        column = exc.column if isinstance(exc.column, int) and exc.column > 0 else len(text) + 1
        raise ExprSyntaxError(shown, column, _HINT) from None
    try:
        return _build(tree)
    except VisitError as exc:  # pragma: no cover - _build is not a Transformer; kept for safety
        raise ExprSyntaxError(str(exc.orig_exc), 1, _HINT) from None


def _make_ref(parts: list, column: int) -> Ref:  # type: ignore[type-arg]
    head = parts[0]
    if head == "item":
        return Ref("item", None, None, tuple(parts[1:]), column)
    if head == "inputs":
        if len(parts) < 2 or not isinstance(parts[1], str):
            raise ExprSyntaxError("'inputs' needs a name: inputs.NAME", column, _HINT)
        return Ref("inputs", parts[1], None, tuple(parts[2:]), column)
    if head == "tasks":
        if len(parts) < 4 or parts[2] != "outputs" or not all(isinstance(p, str) for p in parts[1:4]):
            raise ExprSyntaxError("a task reference is tasks.TASK.outputs.NAME", column, _HINT)
        return Ref("tasks", parts[3], parts[1], tuple(parts[4:]), column)
    raise ExprSyntaxError(f"unknown reference '{head}'", column, _HINT)


def _build(tree) -> Expr:  # type: ignore[no-untyped-def]
    from lark import Token

    if isinstance(tree, Token):  # pragma: no cover - grammar always wraps tokens
        raise ExprSyntaxError(f"unexpected {tree!s}", tree.column or 1, _HINT)
    rule = tree.data
    kids = tree.children
    if rule in ("or_", "and_", "compare") and len(kids) == 1:  # aliases keep 1-child rules
        return _build(kids[0])
    if rule in ("or_", "and_"):
        op = "or" if rule == "or_" else "and"
        result = _build(kids[0])
        for kid in kids[1:]:
            result = BinOp(op, result, _build(kid))
        return result
    if rule == "not_":
        return Not(_build(kids[0]))
    if rule == "compare":
        return BinOp(str(kids[1]), _build(kids[0]), _build(kids[2]))
    if rule == "list_lit":
        return ListExpr(tuple(_build(k) for k in kids if k is not None))
    if rule == "ref":
        parts: list = [str(kids[0])]  # type: ignore[type-arg]
        for accessor in kids[1:]:
            token = accessor.children[0]
            if accessor.data == "attr":
                parts.append(str(token))
            elif token.type == "STRING":
                parts.append(_unquote(str(token)))
            else:
                parts.append(int(str(token)))
        return _make_ref(parts, kids[0].column)
    if rule == "number":
        raw = str(kids[0])
        return Literal(float(raw) if any(c in raw for c in ".eE") else int(raw))
    if rule == "string":
        return Literal(_unquote(str(kids[0])))
    if rule == "true":
        return Literal(True)
    if rule == "false":
        return Literal(False)
    if rule == "null":
        return Literal(None)
    raise ExprSyntaxError(f"unsupported expression '{rule}'", 1, _HINT)  # pragma: no cover


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unquote(token: str) -> str:
    """A string token's value: JSON's escapes (as `unparse` writes them), any other `\\c` is c."""
    body = token[1:-1]

    def escape(match: re.Match[str]) -> str:
        text = match.group(1)
        return chr(int(text[1:], 16)) if len(text) == 5 else _ESCAPES.get(text, text)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", escape, body, flags=re.S)


# `${{ ... }}`: quoted strings inside may hold "}}" (so `to_template` output always splits back).
_TEMPLATE = re.compile(r"""\$\{\{((?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^"'}]|\}(?!\}))*)\}\}""", re.S)


@dataclass(frozen=True)
class TemplatePiece:
    """One `${{ }}` inside a string: its expression text and 0-based offset of that text."""

    text: str
    offset: int


def split_template(text: str) -> list[Union[str, TemplatePiece]]:
    """Split a string into literal text and `${{ }}` pieces (not yet parsed)."""
    pieces: list[Union[str, TemplatePiece]] = []
    last = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > last:
            pieces.append(text[last : match.start()])
        pieces.append(TemplatePiece(match.group(1), match.start(1)))
        last = match.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


def has_template(text: str) -> bool:
    return "${{" in text


def parse_template(text: str) -> Expr:
    """A string value: `${{ e }}` alone -> e; text with `${{ }}` in it -> Interp; else a Literal.

    ExprSyntaxError.column is then relative to the whole string.
    """
    if "${{" not in text:
        return Literal(text)
    pieces = split_template(text)
    if any(isinstance(p, str) and "${{" in p for p in pieces):
        col = text.index("${{", text.index("${{") if not pieces or isinstance(pieces[0], str) else 0) + 1
        raise ExprSyntaxError("unclosed '${{': expected '}}'", col, "write ${{ expression }}")
    parts: list[Union[str, Expr]] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        try:
            parts.append(parse_expr(piece.text))
        except ExprSyntaxError as exc:
            raise ExprSyntaxError(str(exc), piece.offset + exc.column, exc.hint) from None
    if len(parts) == 1 and not isinstance(parts[0], str):
        return parts[0]
    return Interp(tuple(parts))


def refs(expr: Expr) -> list[Ref]:
    """Every reference in an expression, in source order."""
    found: list[Ref] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Ref):
            found.append(e)
        elif isinstance(e, Not):
            walk(e.operand)
        elif isinstance(e, BinOp):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, ListExpr):
            for item in e.items:
                walk(item)
        elif isinstance(e, Interp):
            for part in e.parts:
                if not isinstance(part, str):
                    walk(part)

    walk(expr)
    return found


def unparse_ref(ref: Ref) -> str:
    if ref.root == "item":
        text = "item"
    elif ref.root == "inputs":
        text = f"inputs.{ref.name}"
    else:
        text = f"tasks.{ref.task}.outputs.{ref.name}"
    for step in ref.path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if _is_attribute(step) else f"[{json.dumps(step, ensure_ascii=False)}]")
    return text


def _is_attribute(step: str) -> bool:
    """Can `.step` spell this key? ASCII identifiers other than the language's keywords."""
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", step) is not None and step not in _KEYWORDS


_KEYWORDS = frozenset({"and", "or", "not", "true", "false", "null"})
_PRECEDENCE = {"or": 1, "and": 2, "not": 3}


def unparse(expr: Expr, _parent: int = 0) -> str:
    """The canonical spelling of an expression (without the `${{ }}`)."""
    if isinstance(expr, Literal):
        return json.dumps(plain_value(expr.value), sort_keys=True, ensure_ascii=False)
    if isinstance(expr, Ref):
        return unparse_ref(expr)
    if isinstance(expr, ListExpr):
        return "[" + ", ".join(unparse(i) for i in expr.items) + "]"
    if isinstance(expr, Not):
        text = "not " + unparse(expr.operand, 3)
        return f"({text})" if 3 < _parent else text
    if isinstance(expr, BinOp):
        level = _PRECEDENCE.get(expr.op, 4)
        # The right operand binds tighter (and/or group to the left), and a comparison's
        # operands must be atoms (comparisons do not chain), so both round-trip exactly.
        text = f"{unparse(expr.left, level + 1 if level == 4 else level)} {expr.op} {unparse(expr.right, level + 1)}"
        return f"({text})" if level < _parent else text
    if isinstance(expr, Interp):
        return "".join(p if isinstance(p, str) else "${{ " + unparse(p) + " }}" for p in expr.parts)
    raise TypeError(f"not an expression: {expr!r}")


def to_template(expr: Expr) -> str:
    """The string a spec would hold for this expression: `${{ ... }}`, or the interpolation."""
    if isinstance(expr, Interp):
        return unparse(expr)
    return "${{ " + unparse(expr) + " }}"


def plain_value(value: object) -> object:
    """A Literal's value as plain JSON data: the tuples that keep Literals hashable become lists."""
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value


class EvaluationError(ValueError):
    """Evaluation failed at run time (a missing key, an index out of range, an ordering of mixed types)."""


def evaluate(expr: Expr, resolve: Callable[[Ref], object]) -> object:
    """Evaluate over JSON values. `resolve` returns the value of a reference's root (path excluded)."""
    if isinstance(expr, Literal):
        return plain_value(expr.value)
    if isinstance(expr, Ref):
        value = resolve(Ref(expr.root, expr.name, expr.task))
        for step in expr.path:
            try:
                value = value[step]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise EvaluationError(f"{unparse_ref(expr)}: no element {step!r}") from None
        return value
    if isinstance(expr, ListExpr):
        return [evaluate(i, resolve) for i in expr.items]
    if isinstance(expr, Not):
        return not _truthy(evaluate(expr.operand, resolve))
    if isinstance(expr, Interp):
        return "".join(p if isinstance(p, str) else _to_text(evaluate(p, resolve)) for p in expr.parts)
    if isinstance(expr, BinOp):
        if expr.op == "and":
            return _truthy(evaluate(expr.left, resolve)) and _truthy(evaluate(expr.right, resolve))
        if expr.op == "or":
            return _truthy(evaluate(expr.left, resolve)) or _truthy(evaluate(expr.right, resolve))
        left, right = evaluate(expr.left, resolve), evaluate(expr.right, resolve)
        if expr.op == "==":
            return left == right
        if expr.op == "!=":
            return left != right
        try:
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[expr.op]  # type: ignore[operator]
        except TypeError:
            raise EvaluationError(f"cannot compare {left!r} {expr.op} {right!r}") from None
    raise TypeError(f"not an expression: {expr!r}")


def _truthy(value: object) -> bool:
    return bool(value)


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
