"""The type language: one spelling per type, parse(str(t)) == t, and the assignability rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core.types import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    SCALARS,
    STR,
    Type,
    TypeSyntaxError,
    accepts_value,
    dict_of,
    is_assignable,
    list_of,
    parse_type,
    type_of_literal,
)


def types() -> st.SearchStrategy[Type]:
    scalars = st.sampled_from(SCALARS).map(Type)
    nested = st.recursive(
        scalars,
        lambda inner: st.one_of(inner.map(list_of), inner.map(dict_of)),
        max_leaves=5,
    )
    return st.tuples(nested, st.booleans()).map(lambda pair: pair[0].as_optional() if pair[1] else pair[0])


@settings(deadline=None)
@given(types())
def test_spelling_round_trips(t: Type) -> None:
    assert parse_type(str(t)) == t


@settings(deadline=None)
@given(types())
def test_spelling_round_trips_with_spaces(t: Type) -> None:
    spaced = str(t).replace("[", " [ ").replace(",", " , ").replace("]", " ] ")
    assert parse_type(spaced) == t


@settings(deadline=None)
@given(types())
def test_every_type_is_assignable_to_itself_and_its_optional(t: Type) -> None:
    assert is_assignable(t, t)
    assert is_assignable(t, t.as_optional())


@settings(deadline=None)
@given(types())
def test_an_optional_never_flows_into_a_required(t: Type) -> None:
    assert not is_assignable(t.as_optional(), t.as_required())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", INT),
        ("float?", FLOAT.as_optional()),
        ("list[str]", list_of(STR)),
        ("dict[str, list[int?]]", dict_of(list_of(INT.as_optional()))),
        ("list[dict[str, bool]]?", list_of(dict_of(BOOL)).as_optional()),
    ],
)
def test_parse_known_spellings(text: str, expected: Type) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        (INT, FLOAT, True),
        (FLOAT, INT, False),
        (STR, INT, False),
        (INT, STR, False),
        (INT, INT.as_optional(), True),
        (INT.as_optional(), INT, False),
        (NULL, STR.as_optional(), True),
        (NULL, STR, False),
        (list_of(INT), list_of(FLOAT), True),
        (list_of(FLOAT), list_of(INT), False),
        (list_of(INT), INT, False),
        (dict_of(INT), dict_of(FLOAT.as_optional()), True),
        (Type("file"), STR, False),
    ],
)
def test_assignability(source: Type, target: Type, ok: bool) -> None:
    assert is_assignable(source, target) is ok


@pytest.mark.parametrize(
    ("text", "message", "column", "hint"),
    [
        ("integer", "unknown type 'integer'", 1, "did you mean 'int'?"),
        ("list[strin]", "unknown type 'strin'", 6, "did you mean 'str'?"),
        ("dict[int, str]", "dict keys must be str, not int", 1, "JSON objects only have string keys: use dict[str, T]"),
        ("list(int)", "invalid type 'list(int)'", 5, None),
    ],
)
def test_syntax_errors_carry_column_and_hint(text: str, message: str, column: int, hint: str | None) -> None:
    with pytest.raises(TypeSyntaxError) as caught:
        parse_type(text)
    assert str(caught.value) == message
    assert caught.value.column == column
    if hint is not None:
        assert caught.value.hint == hint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, BOOL),
        (3, INT),
        (2.5, FLOAT),
        ("x", STR),
        ([1, 2.5], list_of(FLOAT)),
        ([1, None], list_of(INT.as_optional())),
        ({"a": [1]}, dict_of(list_of(INT))),
        ([1, "a"], None),
    ],
)
def test_type_of_literal(value: object, expected: Type | None) -> None:
    assert type_of_literal(value) == expected


@pytest.mark.parametrize(
    ("target", "value", "ok"),
    [
        (Type("file"), "data/train.csv", True),
        (FLOAT, 3, True),
        (INT, 3.0, False),
        (list_of(INT), [], True),
        (list_of(INT), [1, "2"], False),
        (dict_of(STR.as_optional()), {"a": None}, True),
        (STR, None, False),
        (STR.as_optional(), None, True),
    ],
)
def test_accepts_value(target: Type, value: object, ok: bool) -> None:
    assert accepts_value(target, value) is ok
