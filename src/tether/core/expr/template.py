"""Strings that hold `${{ }}`: splitting them into text and expressions, and parsing them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from .nodes import Expr, ExprSyntaxError, Interp, Literal
from .syntax import parse_expr

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
    whole = _TEMPLATE.fullmatch(text)  # the usual value, `${{ e }}` alone: no pieces to build
    if whole is not None:
        try:
            return parse_expr(whole.group(1))
        except ExprSyntaxError as exc:
            raise ExprSyntaxError(str(exc), whole.start(1) + exc.column, exc.hint) from None
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
