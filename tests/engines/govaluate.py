"""Argo's `when` evaluation: github.com/Knetic/govaluate as Argo drives it.

Argo substitutes `{{...}}` tags into a DAG task's `when` and then calls `shouldExecute`
(https://github.com/argoproj/argo-workflows/blob/main/workflow/controller/steps.go `shouldExecute`):
it lexes the text with govaluate, turns every VARIABLE token into a STRING token (so `foo == bar`
compares the strings "foo" and "bar"), and evaluates with no parameters. The lexer and the operator
semantics below follow govaluate's parsing.go (`readToken`), lexerState.go, stagePlanner.go and
evaluationStage.go (https://github.com/Knetic/govaluate/blob/master/parsing.go and siblings).

Not modelled: quoted strings that parse as dates become govaluate TIME tokens (`tryParseTime`);
here they stay strings, which gives the same answer for `==`/`!=` between two such literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["WhenError", "evaluate_when"]


class WhenError(ValueError):
    """A `when` that govaluate cannot lex, plan or evaluate to a bool (the task node becomes Error)."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # NUMERIC BOOLEAN STRING ACCESSOR COMPARATOR LOGICALOP MODIFIER PREFIX TERNARY CLAUSE CLAUSE_CLOSE SEPARATOR
    value: Any


# govaluate OperatorSymbol.go symbol tables.
_PREFIX = {"-", "!", "~"}
_MODIFIER = {"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"}
_LOGICAL = {"&&", "||"}
_COMPARATOR = {"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"}
_TERNARY = {"?", ":", "??"}
# lexerState.go: which token kinds may follow which (only the distinction "can a PREFIX come next" matters here).
_PREFIX_ALLOWED_AFTER = {None, "CLAUSE", "PREFIX", "COMPARATOR", "LOGICALOP", "MODIFIER", "TERNARY", "SEPARATOR"}


def _is_variable_char(c: str) -> bool:
    return c.isalpha() or c.isdigit() or c in "_."


def _is_not_alphanumeric(c: str) -> bool:
    return not (c.isdigit() or c.isalpha() or c in "()[]'\"")


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """govaluate `readUntilFalse(..., allowEscaping=true, isNotQuote)`: a backslash escapes anything."""
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 < len(text):
                out.append(text[i + 1])
            i += 2
            continue
        if c in "'\"":
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise WhenError("Unclosed string literal")


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        prev = toks[-1].kind if toks else None
        if c.isdigit() or c == ".":
            if c == "0" and i + 1 < len(text) and text[i + 1] == "x":
                j = i + 2
                while j < len(text) and text[j] in "0123456789abcdefABCDEF":
                    j += 1
                try:
                    toks.append(_Tok("NUMERIC", float(int(text[i + 2 : j], 16))))
                except ValueError:
                    raise WhenError(f"Unable to parse hex value '{text[i + 2:j]}' to uint64") from None
                i = j
                continue
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            try:
                toks.append(_Tok("NUMERIC", float(text[i:j])))
            except ValueError:
                raise WhenError(f"Unable to parse numeric value '{text[i:j]}' to float64") from None
            i = j
            continue
        if c == ",":
            toks.append(_Tok("SEPARATOR", ","))
            i += 1
            continue
        if c == "[":
            j = text.find("]", i + 1)
            if j < 0:
                raise WhenError("Unclosed parameter bracket")
            toks.append(_Tok("STRING", text[i + 1 : j]))  # a VARIABLE, which Argo turns into a STRING
            i = j + 1
            continue
        if c.isalpha():
            j = i
            while j < len(text) and _is_variable_char(text[j]):
                j += 1
            word = text[i:j]
            i = j
            if word in ("true", "false"):
                toks.append(_Tok("BOOLEAN", word == "true"))
            elif word in ("in", "IN"):
                toks.append(_Tok("COMPARATOR", "in"))
            elif word.find(".") > 0:
                if word.endswith("."):
                    raise WhenError(f"Hanging accessor on token '{word}'")
                parts = word.split(".")
                for part in parts[1:]:
                    if part[:1] != part[:1].upper():
                        raise WhenError(f"Unable to access unexported field '{part}' in token '{word}'")
                toks.append(_Tok("ACCESSOR", parts))
            else:
                toks.append(_Tok("STRING", word))  # VARIABLE -> STRING, as Argo's shouldExecute does
            continue
        if c in "'\"":
            value, i = _read_quoted(text, i + 1)
            toks.append(_Tok("STRING", value))
            continue
        if c == "(":
            toks.append(_Tok("CLAUSE", c))
            i += 1
            continue
        if c == ")":
            toks.append(_Tok("CLAUSE_CLOSE", c))
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace() and _is_not_alphanumeric(text[j]):
            j += 1
        sym = text[i:j]
        i = j
        if prev in _PREFIX_ALLOWED_AFTER and sym in _PREFIX:
            toks.append(_Tok("PREFIX", sym))
        elif sym in _MODIFIER:
            toks.append(_Tok("MODIFIER", sym))
        elif sym in _LOGICAL:
            toks.append(_Tok("LOGICALOP", sym))
        elif sym in _COMPARATOR:
            toks.append(_Tok("COMPARATOR", sym))
        elif sym in _TERNARY:
            toks.append(_Tok("TERNARY", sym))
        else:
            raise WhenError(f"Invalid token: '{sym}'")
    depth = 0
    for t in toks:
        depth += t.kind == "CLAUSE"
        depth -= t.kind == "CLAUSE_CLOSE"
    if depth != 0:
        raise WhenError("Unbalanced parenthesis")
    return toks


class _Parser:
    """Precedence climbing over govaluate's levels (stagePlanner.go), lowest first:
    separator, ternary, ||, &&, comparators, bitwise, shifts, additive, multiplicative, **, prefix."""

    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise WhenError("Unexpected end of expression")
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.separator()
        if self.peek() is not None:
            raise WhenError(f"Unexpected token {self.peek().value!r}")
        return node

    def separator(self) -> Any:
        node = self.ternary()
        if self.peek() and self.peek().kind == "SEPARATOR":
            items = [node]
            while self.peek() and self.peek().kind == "SEPARATOR":
                self.take()
                items.append(self.ternary())
            return ("list", items)
        return node

    def _binary(self, kinds: set[str], symbols: set[str], nxt: Any) -> Any:
        node = nxt()
        while (tok := self.peek()) and tok.kind in kinds and tok.value in symbols:
            self.take()
            node = ("bin", tok.value, node, nxt())
        return node

    def ternary(self) -> Any:
        return self._binary({"TERNARY"}, _TERNARY, self.logical_or)

    def logical_or(self) -> Any:
        return self._binary({"LOGICALOP"}, {"||"}, self.logical_and)

    def logical_and(self) -> Any:
        return self._binary({"LOGICALOP"}, {"&&"}, self.comparator)

    def comparator(self) -> Any:
        return self._binary({"COMPARATOR"}, _COMPARATOR, self.bitwise)

    def bitwise(self) -> Any:
        return self._binary({"MODIFIER"}, {"&", "|", "^"}, self.shift)

    def shift(self) -> Any:
        return self._binary({"MODIFIER"}, {">>", "<<"}, self.additive)

    def additive(self) -> Any:
        return self._binary({"MODIFIER"}, {"+", "-"}, self.multiplicative)

    def multiplicative(self) -> Any:
        return self._binary({"MODIFIER"}, {"*", "/", "%"}, self.exponential)

    def exponential(self) -> Any:
        return self._binary({"MODIFIER"}, {"**"}, self.prefix)

    def prefix(self) -> Any:
        tok = self.peek()
        if tok is not None and tok.kind == "PREFIX":
            self.take()
            return ("prefix", tok.value, self.prefix())
        return self.value()

    def value(self) -> Any:
        tok = self.take()
        if tok.kind in ("NUMERIC", "BOOLEAN", "STRING"):
            return ("lit", tok.value)
        if tok.kind == "ACCESSOR":
            return ("accessor", tok.value)
        if tok.kind == "CLAUSE":
            if self.peek() and self.peek().kind == "CLAUSE_CLOSE":
                self.take()
                return ("list", [])
            node = self.separator()
            if self.take().kind != "CLAUSE_CLOSE":
                raise WhenError("Unbalanced parenthesis")
            return node
        raise WhenError(f"Unexpected token {tok.value!r}")


def _num(v: Any) -> bool:
    return isinstance(v, float)


def _type_error(value: Any, symbol: str, what: str) -> WhenError:
    return WhenError(f"Value '{value}' cannot be used with the {what} operator '{symbol}'")


def _eval(node: Any) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "list":
        return [_eval(n) for n in node[1]]
    if kind == "accessor":
        # Argo evaluates with nil parameters: an accessor can never resolve.
        raise WhenError(f"No parameter '{node[1][0]}' found.")
    if kind == "prefix":
        v = _eval(node[2])
        if node[1] == "!":
            if not isinstance(v, bool):
                raise _type_error(v, "!", "prefix")
            return not v
        if not _num(v):
            raise _type_error(v, node[1], "prefix")
        return -v if node[1] == "-" else float(~int(v))
    _, op, left_node, right_node = node
    left = _eval(left_node)
    # evaluateStage short-circuits && || ?? before evaluating the right side.
    if op == "&&" and left is False:
        return False
    if op == "||" and left is True:
        return True
    if op == "??" and left is not None:
        return left
    if op == "?" and left is False:
        return None
    right = _eval(right_node)
    if op in ("&&", "||"):
        for v in (left, right):
            if not isinstance(v, bool):
                raise _type_error(v, op, "logical")
        return left and right if op == "&&" else left or right
    if op == "==":
        return type(left) is type(right) and left == right  # reflect.DeepEqual
    if op == "!=":
        return not (type(left) is type(right) and left == right)
    if op in ("<", "<=", ">", ">="):
        if not ((_num(left) and _num(right)) or (isinstance(left, str) and isinstance(right, str))):
            raise _type_error(left, op, "comparator")
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    if op in ("=~", "!~"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise _type_error(left, op, "comparator")
        try:
            found = re.search(right, left) is not None
        except re.error as e:
            raise WhenError(f"Unable to compile regexp pattern '{right}': {e}") from None
        return found if op == "=~" else not found
    if op == "in":
        if not isinstance(right, list):
            raise _type_error(right, op, "comparator")
        return any(type(left) is type(v) and left == v for v in right)
    if op == "?":
        if not isinstance(left, bool):
            raise _type_error(left, op, "ternary")
        return right if left else None
    if op in (":", "??"):
        return left if left is not None else right
    if op == "+" and not (_num(left) and _num(right)):
        if not isinstance(left, str) and not isinstance(right, str):
            raise _type_error(left, op, "modifier")
        return _go_str(left) + _go_str(right)
    if not (_num(left) and _num(right)):
        raise _type_error(left, op, "modifier")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if right == 0:
            return float("inf") if left > 0 else float("-inf") if left < 0 else float("nan")
        return left / right
    if op == "%":
        return float(int(left) % int(right))
    if op == "**":
        return left**right
    ints = int(left), int(right)
    return float({"&": ints[0] & ints[1], "|": ints[0] | ints[1], "^": ints[0] ^ ints[1],
                  ">>": ints[0] >> ints[1], "<<": ints[0] << ints[1]}[op])


def _go_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def evaluate_when(when: str) -> bool:
    """True when the task should run; an empty `when` runs (steps.go `shouldExecute`)."""
    if when == "":
        return True
    try:
        tree = _Parser(_lex(when)).parse()
    except WhenError as e:
        hint = " (hint: try wrapping the affected expression in quotes (\"))" if "Invalid token" in str(e) else ""
        raise WhenError(f"Invalid 'when' expression '{when}': {e}{hint}") from None
    result = _eval(tree)
    if not isinstance(result, bool):
        raise WhenError(f"Expected boolean evaluation for '{when}'. Got {_go_str(result)}")
    return result
