"""Parsing the inside of `${{ }}`: one set of tokens, a lark grammar, and a lark-free fast path.

The lark grammar defines the language. Common specs hold plain references and simple
comparisons, which a regular expression parses without importing lark (a `tether check`
start-up budget). Both are written from the token sources below, so they cannot drift apart
(tests/test_fast_paths.py holds them to the same result, columns included).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Union

from .nodes import BinOp, Call, Expr, ExprSyntaxError, ListExpr, Literal, Not, Ref

# ---------------------------------------------------------------------------- tokens

KEYWORDS = ("and", "or", "not", "true", "false", "null")
_NAME_CHAR = r"[A-Za-z0-9_-]"
NAME = rf"[A-Za-z0-9_]{_NAME_CHAR}*"
"""A segment after '.': a task name (a DNS-1123 label may start with a digit, `tasks.9a.outputs.x`,
and may be a keyword, `tasks.true.outputs.x`), an input or output name, or a key. After a '.'
no other token can follow, so keywords and leading digits are unambiguous there. (A Kubernetes
DNS-1123 label, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, may start with a digit, e.g. '123-abc':
https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names and
k8s.io/apimachinery/pkg/util/validation/validation.go, dns1123LabelFmt.)"""
ROOT = rf"(?![0-9])(?!(?:{'|'.join(KEYWORDS)})(?!{_NAME_CHAR})){NAME}"
"""A reference's first word: a NAME that cannot be read as a number or a keyword."""
KEY = rf"(?![0-9]){NAME}"
"""A key reached with '.key' (`item.0` is refused: write `item[0]` or `item["0"]`)."""
BLANK = r"[ \t\r\n]"
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
_COMP = "|".join(re.escape(op) for op in COMPARISONS)
MEMBERSHIP = ("in", "not in")
_WORD_END = rf"(?!{_NAME_CHAR})"
_IN = rf"not{BLANK}+in{_WORD_END}|in{_WORD_END}"
"""`in` / `not in` (any blanks between): one token, read only where a comparison operator may
stand, i.e. after an operand, where no reference or keyword can start."""
ADDITIVE = ("+", "-")
MULTIPLICATIVE = ("//", "*", "/", "%")
FUNCTIONS = {"len": 1}
"""The functions an expression may call, with their number of arguments."""

_GRAMMAR = rf"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)*        -> or_
?and_expr: not_expr ("and" not_expr)*      -> and_
?not_expr: "not" not_expr                  -> not_
         | comparison
?comparison: sum (COMP sum)?               -> compare
?sum: product (ADD product)*               -> arith
?product: atom (MUL atom)*                 -> arith
?atom: ref
     | call
     | literal
     | "(" or_expr ")"
     | "[" [or_expr ("," or_expr)*] "]"    -> list_lit
     | "{{" "}}"                           -> empty_dict
call: ROOT "(" [or_expr ("," or_expr)*] ")"
ref: ROOT accessor*
?accessor: "." NAME                        -> attr
         | "[" (SIGNED_INT | STRING) "]"   -> index
literal: SIGNED_NUMBER -> number
       | STRING        -> string
       | "true"        -> true
       | "false"       -> false
       | "null"        -> null
COMP: /{_COMP}|{_IN}/
ADD: {" | ".join(f'"{op}"' for op in ADDITIVE)}
MUL: {" | ".join(f'"{op}"' for op in MULTIPLICATIVE)}
ROOT: /{ROOT}/
NAME: /{NAME}/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
%import common.SIGNED_NUMBER
%import common.SIGNED_INT
%ignore /{BLANK}+/
"""

HINT = (
    "references are inputs.NAME, tasks.TASK.outputs.NAME and item; "
    "operators are == != < <= > >= in, not in, + - * / // %, and or not; functions: len(x)"
)

MAX_EXPR_DEPTH = 100
"""How deeply an expression may nest: brackets, `not`, comparisons, and each further term of an
`and`/`or` chain (`a and b and c` nests as `(a and b) and c`). Every consumer of an expression
(type inference, evaluation, the Argo and Batch translations) walks it recursively, so a deeper
one is refused here, with a column, instead of exhausting the stack later."""
_DEPTH_HINT = "split it into simpler steps: compute part of it in a task, or use fewer terms"

# ---------------------------------------------------------------------------- fast path

_REF_TEXT = rf"(?:inputs\.{NAME}|tasks\.{NAME}\.outputs\.{NAME}|item)(?:\.{KEY}|\[[0-9]+\])*"
_SIMPLE_REF = re.compile(rf"{BLANK}*({_REF_TEXT}){BLANK}*")
_OPERAND = rf"({_REF_TEXT})|(-?[0-9]+(?:\.[0-9]+)?)|\"([^\"\\]*)\"|'([^'\\]*)'|(true|false|null)"
_SIMPLE_COMPARISON = re.compile(rf"{BLANK}*(?:{_OPERAND}){BLANK}*({_COMP}){BLANK}*(?:{_OPERAND}){BLANK}*")
_PLAIN_REF = re.compile(rf"{BLANK}*(tasks\.({NAME})\.outputs\.({NAME})|inputs\.({NAME})){BLANK}*")
"""`tasks.TASK.outputs.NAME` or `inputs.NAME` with nothing after it (groups: whole, TASK, NAME, NAME)."""
_STEP = re.compile(r"[^.\[\]]+|\[[0-9]+\]")
_LITERAL_WORDS = {"true": True, "false": False, "null": None}


def _fast_ref(text: str, column: int) -> Ref:
    parts: list[Union[str, int]] = [int(p[1:-1]) if p[0] == "[" else p for p in _STEP.findall(text)]
    return _make_ref(parts, [isinstance(p, str) for p in parts], column)


def _fast_operand(match: re.Match[str], first: int) -> Expr:
    """One operand of a simple comparison, from the groups starting at `first`."""
    ref, number, dquoted, squoted, keyword = (match.group(first + i) for i in range(5))
    if ref is not None:
        return _fast_ref(ref, match.start(first) + 1)
    if number is not None:
        return Literal(float(number) if "." in number else int(number))
    if dquoted is not None or squoted is not None:
        return Literal(dquoted if dquoted is not None else squoted)
    return Literal(_LITERAL_WORDS[keyword])


def parse_simple(text: str) -> Expr | None:
    """Plain references and `operand OP operand` without lark; None for anything else."""
    plain = _PLAIN_REF.fullmatch(text)  # most values: what `_fast_ref` makes of them, built directly
    if plain is not None:
        task, output, name = plain.group(2, 3, 4)
        column = plain.start(1) + 1
        return Ref("tasks", output, task, (), column) if name is None else Ref("inputs", name, None, (), column)
    simple = _SIMPLE_REF.fullmatch(text)
    if simple:
        return _fast_ref(simple.group(1), simple.start(1) + 1)
    match = _SIMPLE_COMPARISON.fullmatch(text)
    if match is None:
        return None
    return BinOp(match.group(6), _fast_operand(match, 1), _fast_operand(match, 7))


# ---------------------------------------------------------------------------- grammar


@lru_cache(maxsize=1)
def _parser():  # type: ignore[no-untyped-def]
    from ..grammars import build_lalr

    return build_lalr(_GRAMMAR, propagate_positions=True)


@lru_cache(maxsize=65536)
def parse_expr(text: str) -> Expr:
    """Parse the inside of `${{ }}`. Raises ExprSyntaxError with a column and a hint."""
    simple = parse_simple(text)
    if simple is not None:
        return simple
    return parse_with_grammar(text)


def parse_with_grammar(text: str) -> Expr:
    """The definition of the language (imports lark)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

    if not text.strip():
        raise ExprSyntaxError("empty expression", 1, HINT)
    _check_brackets(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        raise ExprSyntaxError("unexpected end of expression", len(text) + 1, HINT) from None
    # Columns are character offsets + 1 in the whole text (lark's `column` restarts on each line).
    except UnexpectedCharacters as exc:
        raise ExprSyntaxError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.pos_in_stream + 1, HINT) from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        shown = f"unexpected {str(token)!r}" if token is not None and str(token) else "unexpected end of expression"
        position = exc.pos_in_stream
        column = position + 1 if isinstance(position, int) and position >= 0 else len(text) + 1
        raise ExprSyntaxError(shown, column, HINT) from None
    depth = _tree_depth(tree)
    if depth > MAX_EXPR_DEPTH:
        raise ExprSyntaxError(f"expression nested too deeply (depth {depth}; the limit is {MAX_EXPR_DEPTH})", 1, _DEPTH_HINT)
    return _build(tree)


_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"|' + r"'(?:\\.|[^'\\])*'")


def _check_brackets(text: str) -> None:
    """Refuse brackets nested deeper than MAX_EXPR_DEPTH before lark builds a tree of them,
    pointing at the first bracket too many (brackets inside string literals do not count)."""
    depth = 0
    position = 0
    for match in _QUOTED.finditer(text):
        depth = _bracket_depth(text, position, match.start(), depth)
        position = match.end()
    _bracket_depth(text, position, len(text), depth)


def _bracket_depth(text: str, start: int, end: int, depth: int) -> int:
    for index in range(start, end):
        char = text[index]
        if char in "([":
            depth += 1
            if depth > MAX_EXPR_DEPTH:
                raise ExprSyntaxError(
                    f"expression nested too deeply (more than {MAX_EXPR_DEPTH} brackets)", index + 1, _DEPTH_HINT
                )
        elif char in ")]":
            depth -= 1
    return depth


def _tree_depth(tree) -> int:  # type: ignore[no-untyped-def]
    """The depth of the Expr that `_build` makes of `tree` (an upper bound), without recursion."""
    from lark import Tree

    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        kids = [kid for kid in node.children if isinstance(kid, Tree)]
        if node.data in ("or_", "and_", "compare", "arith") and len(node.children) == 1:
            stack.extend((kid, depth) for kid in kids)  # an alias kept for one child: no Expr of its own
            continue
        chain = len(kids) - 1 if node.data in ("or_", "and_", "arith") else 0  # left-folded into BinOps
        stack.extend((kid, depth + 1 + max(chain, 0)) for kid in kids)
    return deepest


def _make_ref(parts: list[Union[str, int]], dotted: list[bool], column: int) -> Ref:
    """A Ref from its segments; `dotted[i]` says segment i was written `.name` (not `[...]`)."""
    head = parts[0]
    if head == "item":
        start = 1
        ref = Ref("item", None, None, tuple(parts[1:]), column)
    elif head == "inputs":
        if len(parts) < 2 or not dotted[1]:
            raise ExprSyntaxError("'inputs' needs a name: inputs.NAME", column, HINT)
        start = 2
        ref = Ref("inputs", str(parts[1]), None, tuple(parts[2:]), column)
    elif head == "tasks":
        if len(parts) < 4 or parts[2] != "outputs" or not all(dotted[1:4]):
            raise ExprSyntaxError("a task reference is tasks.TASK.outputs.NAME", column, HINT)
        start = 4
        ref = Ref("tasks", str(parts[3]), str(parts[1]), tuple(parts[4:]), column)
    else:
        root, dash, rest = str(head).partition("-")
        if dash and root in ("item", "inputs", "tasks"):  # `item-1`: '-' is part of a name
            raise ExprSyntaxError(
                f"unknown reference '{head}'", column, f"to subtract, put spaces around '-': {root} - {rest}"
            )
        raise ExprSyntaxError(f"unknown reference '{head}'", column, HINT)
    for step, by_dot in zip(parts[start:], dotted[start:]):
        if by_dot and isinstance(step, str) and step[:1].isdigit():
            raise ExprSyntaxError(
                f"'.{step}' is not a key name", column, f'write [{step}] for an index or ["{step}"] for a key'
            )
    return ref


def _build(tree) -> Expr:  # type: ignore[no-untyped-def]
    rule = tree.data
    kids = tree.children
    if rule in ("or_", "and_", "compare", "arith") and len(kids) == 1:  # aliases keep 1-child rules
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
        return BinOp(" ".join(str(kids[1]).split()), _build(kids[0]), _build(kids[2]))
    if rule == "arith":
        result = _build(kids[0])
        for i in range(1, len(kids), 2):  # left-associative: a - b - c is (a - b) - c
            result = BinOp(str(kids[i]), result, _build(kids[i + 1]))
        return result
    if rule == "list_lit":
        return ListExpr(tuple(_build(k) for k in kids if k is not None))
    if rule == "empty_dict":
        return Literal({})
    if rule == "call":
        _check_function(kids[0], sum(k is not None for k in kids[1:]))  # before its arguments' errors
        return Call(str(kids[0]), tuple(_build(k) for k in kids[1:] if k is not None))
    if rule == "ref":
        parts: list[Union[str, int]] = [str(kids[0])]
        dotted = [True]
        for accessor in kids[1:]:
            token = accessor.children[0]
            dotted.append(accessor.data == "attr")
            if accessor.data == "attr":
                parts.append(str(token))
            elif token.type == "STRING":
                parts.append(_unquote(str(token)))
            else:
                parts.append(int(str(token)))
        return _make_ref(parts, dotted, kids[0].start_pos + 1)
    if rule == "number":
        raw = str(kids[0])
        return Literal(float(raw) if any(c in raw for c in ".eE") else int(raw))
    if rule == "string":
        return Literal(_unquote(str(kids[0])))
    if rule in ("true", "false", "null"):
        return Literal(_LITERAL_WORDS[rule])
    raise ExprSyntaxError(f"unsupported expression '{rule}'", 1, HINT)  # pragma: no cover


def _check_function(name_token, count: int) -> None:  # type: ignore[no-untyped-def]
    """A call names a known function with its number of arguments."""
    name, column = str(name_token), name_token.start_pos + 1
    arity = FUNCTIONS.get(name)
    if arity is None:
        from ..diagnostics import did_you_mean

        guess = did_you_mean(name, FUNCTIONS)
        hint = f"did you mean '{guess}'?" if guess else "the functions are: " + ", ".join(f"{f}(x)" for f in FUNCTIONS)
        raise ExprSyntaxError(f"unknown function '{name}'", column, hint)
    if count != arity:
        raise ExprSyntaxError(
            f"{name}() takes {arity} argument{'s' if arity != 1 else ''}, not {count}", column, f"write {name}(x)"
        )


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unquote(token: str) -> str:
    """A string token's value: JSON's escapes (as `unparse` writes them), any other `\\c` is c."""
    body = token[1:-1]

    def escape(match: re.Match[str]) -> str:
        text = match.group(1)
        return chr(int(text[1:], 16)) if len(text) == 5 else _ESCAPES.get(text, text)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", escape, body, flags=re.S)


REFERENCE_TEXT = re.compile(rf"{ROOT}(?:{BLANK}*(?:\.{BLANK}*{NAME}|\[[^\]]*\]))*")
"""The source text of a reference, for the length of a diagnostic's caret."""
