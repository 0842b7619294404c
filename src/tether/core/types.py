"""The type language: int, float, bool, str, file, dir, list[T], dict[str, T] and T? (optional).

Types are tiny frozen values with one canonical spelling (`str(t)`), which is also their JSON
form in the IR. Parsing uses a lark grammar, built once per process on first use and cached
per distinct spelling, so a spec with 10,000 tasks parses each distinct type once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SCALARS = ("int", "float", "bool", "str", "file", "dir")

# The tokens the grammar and the fast path (`_parse_well_formed`) share, so they cannot drift.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BLANKS = " "  # the only white space a type may hold ("list[\tint]" is refused by both)

_GRAMMAR = rf"""
?start: type
type: base OPTIONAL?
?base: scalar | list_ | dict_
scalar: NAME
list_: "list" "[" type "]"
dict_: "dict" "[" type "," type "]"
OPTIONAL: "?"
NAME: /{_NAME}/
%ignore /[{_BLANKS}]+/
"""


@dataclass(frozen=True)
class Type:
    """A tether type. `kind` is a scalar name, 'list' or 'dict'; `args` the element types."""

    kind: str
    args: tuple["Type", ...] = ()
    optional: bool = False

    def __str__(self) -> str:
        if self.kind == "list":
            text = f"list[{self.args[0]}]"
        elif self.kind == "dict":
            text = f"dict[{self.args[0]}, {self.args[1]}]"
        else:
            text = self.kind
        return text + ("?" if self.optional else "")

    def as_optional(self) -> "Type":
        return Type(self.kind, self.args, True)

    def as_required(self) -> "Type":
        return Type(self.kind, self.args, False)


INT = Type("int")
FLOAT = Type("float")
BOOL = Type("bool")
STR = Type("str")
FILE = Type("file")
DIR = Type("dir")
NULL = Type("null", (), True)  # the type of a null literal: assignable only to optionals


def list_of(element: Type) -> Type:
    return Type("list", (element,))


def dict_of(value: Type) -> Type:
    return Type("dict", (STR, value))


class TypeSyntaxError(ValueError):
    """A type that does not parse. `column` is 1-based within the type text."""

    def __init__(self, message: str, column: int = 1, hint: str | None = None):
        super().__init__(message)
        self.column = column
        self.hint = hint


@lru_cache(maxsize=1)
def _parser():  # type: ignore[no-untyped-def]
    from .grammars import build_lalr

    return build_lalr(_GRAMMAR, maybe_placeholders=False)


_WELL_FORMED = re.compile(rf"(list|dict)\[(.*)\]|({_NAME})", re.S)


def _parse_well_formed(text: str) -> Type | None:
    """Parse a well-formed type without lark (so common specs never import it); None = ask lark.

    Only returns a type when the whole text is valid; anything doubtful, including every
    error, goes to the lark grammar, which stays the definition of the language.
    """
    text = text.strip(_BLANKS)
    optional = text.endswith("?")
    if optional:
        text = text[:-1].rstrip(_BLANKS)
    match = _WELL_FORMED.fullmatch(text)
    if match is None:
        return None
    if match.group(3) is not None:
        return Type(text, (), optional) if text in SCALARS else None
    inner = match.group(2)
    if match.group(1) == "list":
        element = _parse_well_formed(inner)
        return None if element is None else Type("list", (element,), optional)
    key, comma, rest = inner.partition(",")
    if not comma or key.strip(_BLANKS) != "str":
        return None
    value = _parse_well_formed(rest)
    return None if value is None else Type("dict", (STR, value), optional)


MAX_TYPE_DEPTH = 32
"""How deeply `list[...]` and `dict[str, ...]` may nest. Types are walked recursively everywhere
(assignability, value checks, every backend), so a deeper one is refused where it is written."""


def _check_depth(text: str) -> None:
    """Refuse brackets nested deeper than MAX_TYPE_DEPTH, pointing at the first one too many."""
    depth = 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
            if depth > MAX_TYPE_DEPTH:
                raise TypeSyntaxError(
                    f"type nested too deeply (more than {MAX_TYPE_DEPTH} levels of list[...] and dict[...])",
                    index + 1,
                    "use a shallower type, e.g. dict[str, str] holding JSON text for deep data",
                )
        elif char == "]":
            depth -= 1


@lru_cache(maxsize=4096)
def parse_type(text: str) -> Type:
    """Parse a type spelling; raises TypeSyntaxError with a column and a hint."""
    if not isinstance(text, str):
        raise TypeSyntaxError(f"a type must be a string, not {type(text).__name__}")
    _check_depth(text)
    stripped = text.strip()
    if stripped in SCALARS:  # fast path: most types in a spec are scalars
        return Type(stripped)
    well_formed = _parse_well_formed(stripped)
    if well_formed is not None:
        return well_formed
    from lark.exceptions import LarkError, UnexpectedInput

    lead = len(text) - len(text.lstrip())  # white space around a type is ignored, as on the fast path
    try:
        tree = _parser().parse(stripped)
    except UnexpectedInput as exc:
        column = max(getattr(exc, "column", 1), 1) + lead
        raise TypeSyntaxError(f"invalid type {text!r}", column, _typing_hint(stripped) or _TYPE_HINT) from None
    except LarkError:
        raise TypeSyntaxError(f"invalid type {text!r}", 1, _TYPE_HINT) from None
    return _build(tree, text, lead)


_TYPE_HINT = "types are int, float, bool, str, file, dir, list[T], dict[str, T], and T? for optional"

_TYPING_NAMES = ((re.compile(r"\bList\["), "list["), (re.compile(r"\bDict\["), "dict["))
_OPTIONAL = re.compile(r"\bOptional\[([^\[\]]+)\]")


def _typing_hint(text: str) -> str | None:
    """`List[float]` (the typing module's spelling) -> "did you mean 'list[float]'?", when the
    lowercase spelling parses."""
    fixed = _OPTIONAL.sub(r"\1?", text)
    for pattern, lower in _TYPING_NAMES:
        fixed = pattern.sub(lower, fixed)
    if fixed == text:
        return None
    try:
        parse_type(fixed)
    except TypeSyntaxError:
        return None
    return f"did you mean '{fixed}'? Types are spelled as Python's built-ins (list, dict), and T? for optional"


def _build(tree, text: str, lead: int = 0) -> Type:  # type: ignore[no-untyped-def]
    """The Type of a parse tree; `lead` = columns of white space stripped before parsing."""
    base = tree.children[0]
    optional = len(tree.children) > 1
    rule = base.data
    if rule == "scalar":
        token = base.children[0]
        name = str(token)
        if name not in SCALARS:
            from .diagnostics import did_you_mean

            guess = did_you_mean(name, SCALARS + ("list", "dict"))
            hint = f"did you mean '{guess}'?" if guess else _TYPE_HINT
            raise TypeSyntaxError(f"unknown type '{name}'", token.column + lead, hint)
        return Type(name, (), optional)
    if rule == "list_":
        return Type("list", (_build(base.children[0], text, lead),), optional)
    key = _build(base.children[0], text, lead)
    value = _build(base.children[1], text, lead)
    if key != STR:
        raise TypeSyntaxError(
            f"dict keys must be str, not {key}", 1, "JSON objects only have string keys: use dict[str, T]"
        )
    return Type("dict", (key, value), optional)


def is_assignable(source: Type, target: Type) -> bool:
    """Can a value of `source` flow where `target` is expected?

    Exact match, int -> float, T -> T?, null -> T?, and the same rules element-wise inside
    list and dict. Nothing else is implicit (no str -> int, no T? -> T).
    """
    if source.kind == "null":
        return target.optional
    if source.optional and not target.optional:
        return False
    if source.kind == target.kind:
        if len(source.args) != len(target.args):
            return False
        return all(is_assignable(s, t) for s, t in zip(source.args, target.args))
    return source.kind == "int" and target.kind == "float"


def type_of_literal(value: object) -> Type | None:
    """The type of a YAML/JSON literal; None when it has no tether type (mixed lists...)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        if not value:
            return Type("list", (Type("null", (), True),))  # empty list: fits any list
        elements = [type_of_literal(v) for v in value]
        if any(e is None for e in elements):
            return None
        joined = join_types(elements)  # type: ignore[arg-type]
        return list_of(joined) if joined else None
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return None
        if not value:
            return dict_of(Type("null", (), True))
        elements = [type_of_literal(v) for v in value.values()]
        if any(e is None for e in elements):
            return None
        joined = join_types(elements)  # type: ignore[arg-type]
        return dict_of(joined) if joined else None
    return None


def join_types(types: list[Type]) -> Type | None:
    """The narrowest type every element fits (int+float -> float, x+null -> x?)."""
    result: Type | None = None
    for t in types:
        if result is None:
            result = t
        elif is_assignable(t, result):
            continue
        elif is_assignable(result, t):
            result = t
        elif t.kind == "null":
            result = result.as_optional()
        elif result.kind == "null":
            result = t.as_optional()
        elif {t.kind, result.kind} == {"int", "float"}:
            result = Type("float", (), t.optional or result.optional)
        else:
            return None
    return result


def accepts_value(target: Type, value: object) -> bool:
    """Does a literal (or a JSON value at run time) fit `target`? Used for defaults and -p."""
    source = type_of_literal(value)
    if source is None:
        return False
    if target.kind in ("file", "dir") and source.kind == "str":
        return True
    if target.kind == "list" and source.kind == "list" and source.args[0].kind == "null" and not isinstance(value, list):
        return False
    if target.kind == "list" and isinstance(value, list):
        return all(accepts_value(target.args[0], v) for v in value)
    if target.kind == "dict" and isinstance(value, dict):
        return all(accepts_value(target.args[1], v) for v in value.values())
    return is_assignable(source, target)
