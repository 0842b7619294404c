"""The subset of github.com/expr-lang/expr that Argo's retry expressions and `depends` use.

Argo evaluates `retryStrategy.expression` and a task's resolved `depends` with expr-lang
(https://github.com/argoproj/argo-workflows/blob/main/util/expr/argoexpr/eval.go `EvalBool`), the
retry scope built by `buildRetryStrategyLocalScope` and widened by `env.GetFuncMap`
(https://github.com/argoproj/argo-workflows/blob/main/util/expr/env/env.go: `asInt` = builtin
`int`, `asFloat` = builtin `float`). Operator precedence is expr's
(https://github.com/expr-lang/expr/blob/master/parser/operator/operator.go); equality follows
vm/runtime `Equal` (numbers compare by value across int/float, other types must match).

Covered: literals (int, float, quoted and backtick strings, true/false/nil, arrays, maps),
identifiers and member access over dict environments, calls of a member that holds a function
(`sprig.sha256sum(x)`: expr-lang's CallNode over a MemberNode callee, as Argo's `{{=...}}` templates
use the env of util/expr/env/env.go `GetFuncMap`), `! not - +`, `** * / % + - ..`,
comparisons, `in`/`not in`, `matches`, `contains`, `startsWith`, `endsWith` (and their `not`
forms), `&& and || or`, `??`, `?:`, and the builtins `int asInt float asFloat string len upper
lower trim abs`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

__all__ = ["ExprError", "evaluate", "evaluate_bool"]


class ExprError(ValueError):
    """An expression expr-lang would refuse to compile or run."""


_BINARY = {
    "??": 500, "**": 100, "^": 100, "*": 60, "/": 60, "%": 60, "+": 30, "-": 30, "..": 25,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20, "matches": 20,
    "contains": 20, "startsWith": 20, "endsWith": 20, "and": 15, "&&": 15, "or": 10, "||": 10,
}
_RIGHT_ASSOC = {"**", "^"}
_WORD_OPS = {"in", "matches", "contains", "startsWith", "endsWith", "and", "or", "not"}
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>0[xX][0-9a-fA-F_]+|\d[\d_]*\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+|\d[\d_]*|\.\d+)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<op>\?\?|\?\.|\*\*|==|!=|<=|>=|&&|\|\||\.\.|[-+*/%^!<>?:.,()\[\]{}|])
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "b": "\b", "f": "\f",
            "v": "\v", "a": "\a", "0": "\0"}


def _unquote(raw: str) -> str:
    if raw[0] == "`":
        return raw[1:-1]
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise ExprError(f"invalid char escape in {raw}")
    return "".join(out)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    toks: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"unexpected token {text[pos:].strip()[:1]!r} in {text!r}")
        pos = m.end()
        if m.group("num") is not None:
            s = m.group("num").replace("_", "")
            if s[:2] in ("0x", "0X"):
                toks.append(("lit", int(s, 16)))
            elif any(ch in s for ch in ".eE"):
                toks.append(("lit", float(s)))
            else:
                toks.append(("lit", int(s)))
        elif m.group("str") is not None:
            toks.append(("lit", _unquote(m.group("str"))))
        elif m.group("name") is not None:
            name = m.group("name")
            if name in ("true", "false"):
                toks.append(("lit", name == "true"))
            elif name == "nil":
                toks.append(("lit", None))
            elif name in _WORD_OPS:
                toks.append(("op", name))
            else:
                toks.append(("name", name))
        else:
            toks.append(("op", m.group("op")))
    return toks


class _Parser:
    def __init__(self, toks: list[tuple[str, Any]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, Any] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ExprError("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok != ("op", op):
            raise ExprError(f"expected {op!r}, got {tok[1]!r}")

    def parse(self) -> Any:
        node = self.expression(0)
        if self.peek() is not None:
            raise ExprError(f"unexpected token {self.peek()[1]!r}")
        return node

    def expression(self, min_prec: int) -> Any:
        node = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op":
                break
            op, negate = tok[1], False
            if op == "not" and self.peek(1) and self.peek(1)[1] in ("in", "matches", "contains", "startsWith", "endsWith"):
                op, negate = self.peek(1)[1], True
            if op == "?" and min_prec == 0:
                self.take()
                then = self.expression(0)
                self.expect(":")
                node = ("cond", node, then, self.expression(0))
                continue
            prec = _BINARY.get(op)
            if prec is None or prec < min_prec:
                break
            self.take()
            if negate:
                self.take()
            right = self.expression(prec if op in _RIGHT_ASSOC else prec + 1)
            node = ("bin", op, node, right)
            if negate:
                node = ("not", node)
        return node

    def unary(self) -> Any:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in ("!", "not", "-", "+"):
            self.take()
            operand = self.expression(50 if tok[1] in ("!", "not") else 90)
            return ("not", operand) if tok[1] in ("!", "not") else ("neg" if tok[1] == "-" else "pos", operand)
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args = self.arguments(")")
                return ("call", value, args)
            return ("name", value)
        if value == "(":
            node = self.expression(0)
            self.expect(")")
            return node
        if value == "[":
            return ("array", self.arguments("]"))
        if value == "{":
            entries = []
            while self.peek() != ("op", "}"):
                key_kind, key = self.take()
                if key_kind not in ("name", "lit"):
                    raise ExprError(f"bad map key {key!r}")
                self.expect(":")
                entries.append((key, self.expression(0)))
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return ("map", entries)
        raise ExprError(f"unexpected token {value!r}")

    def arguments(self, close: str) -> list[Any]:
        args = []
        while self.peek() != ("op", close):
            args.append(self.expression(0))
            if self.peek() == ("op", ","):
                self.take()
            elif self.peek() != ("op", close):
                raise ExprError(f"expected {close!r}")
        self.take()
        return args

    def postfix(self, node: Any) -> Any:
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in (".", "?.", "["):
            self.take()
            if tok[1] == "[":
                index = self.expression(0)
                self.expect("]")
                node = ("member", node, index, False)
            else:
                kind, name = self.take()
                if kind != "name" and not (kind == "op" and name in _WORD_OPS):
                    raise ExprError(f"expected a field name after '.', got {name!r}")
                node = ("member", node, ("lit", name), tok[1] == "?.")
                if self.peek() == ("op", "("):  # a method-style call: the member's value is the function
                    self.take()
                    node = ("callv", node, self.arguments(")"))
        return node


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}",
            dict: "map[string]interface {}", type(None): "nil"}.get(type(v), type(v).__name__)


def _equal(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return a == b
    return type(a) is type(b) and a == b


def _go_sprint(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    return str(v)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ExprError(f"invalid operation: int(bool)")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        if not re.fullmatch(r"[+-]?\d+", v):
            raise ExprError(f'strconv.Atoi: parsing "{v}": invalid syntax')
        return int(v)
    raise ExprError(f"invalid operation: int({_type_name(v)})")


def _to_float(v: Any) -> float:
    if _is_num(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise ExprError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise ExprError(f"invalid operation: float({_type_name(v)})")


_FUNCS: dict[str, Callable[..., Any]] = {
    "int": _to_int, "asInt": _to_int, "float": _to_float, "asFloat": _to_float, "string": _go_sprint,
    "len": lambda v: len(v), "upper": lambda s: s.upper(), "lower": lambda s: s.lower(),
    "trim": lambda s, chars=None: s.strip(chars), "abs": lambda v: abs(v),
}


def _strings(op: str, a: Any, b: Any) -> tuple[str, str]:
    if not isinstance(a, str) or not isinstance(b, str):
        raise ExprError(f"invalid operation: {op} (mismatched types {_type_name(a)} and {_type_name(b)})")
    return a, b


def _binary(op: str, a: Any, b: Any) -> Any:
    if op in ("==", "!="):
        return _equal(a, b) == (op == "==")
    if op in ("<", ">", "<=", ">="):
        if not ((_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise ExprError(f"invalid operation: {op} (mismatched types {_type_name(a)} and {_type_name(b)})")
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    if op == "in":
        if isinstance(b, dict):
            return a in b
        if isinstance(b, list):
            return any(_equal(a, x) for x in b)
        raise ExprError(f"invalid operation: in (mismatched types {_type_name(a)} and {_type_name(b)})")
    if op == "matches":
        s, pattern = _strings(op, a, b)
        return re.search(pattern, s) is not None
    if op == "contains":
        s, sub = _strings(op, a, b)
        return sub in s
    if op == "startsWith":
        s, sub = _strings(op, a, b)
        return s.startswith(sub)
    if op == "endsWith":
        s, sub = _strings(op, a, b)
        return s.endswith(sub)
    if op == "..":
        return list(range(_to_int(a), _to_int(b) + 1))
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "+" and isinstance(a, list) and isinstance(b, list):
        return a + b
    if not (_is_num(a) and _is_num(b)):
        raise ExprError(f"invalid operation: {op} (mismatched types {_type_name(a)} and {_type_name(b)})")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return float("inf") if a > 0 else float("-inf") if a < 0 else float("nan")
        return a / b
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise ExprError(f"invalid operation: % (mismatched types {_type_name(a)} and {_type_name(b)})")
        if b == 0:
            raise ExprError("integer divide by zero")
        return int(a - b * int(a / b))  # Go truncates towards zero
    return float(a) ** float(b)  # ** and ^


def _eval(node: Any, env: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        if node[1] not in env:
            raise ExprError(f"unknown name {node[1]}")
        return env[node[1]]
    if kind == "array":
        return [_eval(n, env) for n in node[1]]
    if kind == "map":
        return {k: _eval(v, env) for k, v in node[1]}
    if kind == "not":
        v = _eval(node[1], env)
        if not isinstance(v, bool):
            raise ExprError(f"invalid operation: ! ({_type_name(v)})")
        return not v
    if kind in ("neg", "pos"):
        v = _eval(node[1], env)
        if not _is_num(v):
            raise ExprError(f"invalid operation: - ({_type_name(v)})")
        return -v if kind == "neg" else v
    if kind == "member":
        base = _eval(node[1], env)
        key = _eval(node[2], env)
        if base is None:
            if node[3]:
                return None
            raise ExprError(f"cannot fetch {key} from nil")
        if isinstance(base, dict):
            return base.get(key)
        if isinstance(base, (list, str)) and isinstance(key, int):
            if not -len(base) <= key < len(base):
                raise ExprError(f"index out of range: {key} (array length is {len(base)})")
            return base[key]
        raise ExprError(f"cannot fetch {key} from {_type_name(base)}")
    if kind == "call":
        fn = env.get(node[1]) if callable(env.get(node[1])) else _FUNCS.get(node[1])
        if fn is None:
            raise ExprError(f"unknown func {node[1]}")
        return fn(*[_eval(a, env) for a in node[2]])
    if kind == "callv":
        fn = _eval(node[1], env)
        if not callable(fn):
            raise ExprError(f"{_type_name(fn)} is not callable")
        return fn(*[_eval(a, env) for a in node[2]])
    if kind == "cond":
        test = _eval(node[1], env)
        if not isinstance(test, bool):
            raise ExprError(f"non-bool expression (type {_type_name(test)}) used as condition")
        return _eval(node[2] if test else node[3], env)
    _, op, left_node, right_node = node
    left = _eval(left_node, env)
    if op in ("&&", "and", "||", "or"):
        if not isinstance(left, bool):
            raise ExprError(f"invalid operation: {op} ({_type_name(left)})")
        if (op in ("&&", "and")) != left:  # short-circuit: false && ..., true || ...
            return left
        right = _eval(right_node, env)
        if not isinstance(right, bool):
            raise ExprError(f"invalid operation: {op} ({_type_name(right)})")
        return right
    if op == "??":
        return left if left is not None else _eval(right_node, env)
    return _binary(op, left, _eval(right_node, env))


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    """Evaluate `expression` over `env` (nested dicts; dotted access reads dict keys)."""
    try:
        return _eval(_Parser(_tokenize(expression)).parse(), env)
    except ExprError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, re.error) as e:
        raise ExprError(str(e)) from None


def evaluate_bool(expression: str, env: Mapping[str, Any]) -> bool:
    """argoexpr.EvalBool: the result must be a bool."""
    result = evaluate(expression, env)
    if not isinstance(result, bool):
        raise ExprError(f"unable to cast expression result '{_go_sprint(result)}' to bool")
    return result
