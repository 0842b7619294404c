"""Durations and Kubernetes quantities: strict parsing, exact units, formatters that round-trip."""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.compiler.quantities import (
    QuantityError,
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)


def assert_refused(parse: Callable[[object], int], value: object, message: str, hint: str | None = None) -> None:
    """`parse(value)` raises a QuantityError with exactly `message` (and `hint`, when one is given)."""
    with pytest.raises(QuantityError) as caught:
        parse(value)
    assert str(caught.value) == message
    if hint is not None:
        assert caught.value.hint == hint


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("1h30m", 5400), ("2d", 172800), ("1d2h3m4s", 93784), ("0s", 0),
     ("300", 300), (45, 45)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("1.5h", "invalid duration '1.5h'", "fractions are not allowed: write 1h30m rather than 1.5h"),
        ("30m1h", "invalid duration '30m1h'", "each unit at most once, largest first: 1h30m, not 30m1h"),
        ("10M", "invalid duration '10M'", "units are d, h, m and s (lowercase), largest first: 1h30m"),
        ("10 minutes", "invalid duration '10 minutes'", "units are d, h, m and s (lowercase), largest first: 1h30m"),
        ("500ms", "invalid duration '500ms'", "the smallest unit is a second"),
        ("", "invalid duration ''", "write a duration like 90s, 15m, 6h, 1h30m or 2d (units d, h, m, s, largest first)"),
        (-5, "duration -5 is negative", "write a duration like 90s, 15m, 6h, 1h30m or 2d (units d, h, m, s, largest first)"),
        (True, "a duration must be a string like '15m', not a boolean", None),
        (1.5, "a duration must be a string like '15m', not 1.5", None),
    ],
)
def test_bad_durations(text: object, message: str, hint: str | None) -> None:
    assert_refused(parse_duration, text, message, hint)


@settings(deadline=None)
@given(st.integers(0, 10**9))
def test_duration_format_round_trips(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "millicores"),
    [("500m", 500), ("2", 2000), (2, 2000), (0.5, 500), ("1.5", 1500), ("0.1", 100), (".25", 250), ("250m", 250)],
)
def test_cpu(value: object, millicores: int) -> None:
    assert parse_cpu(value) == millicores


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2x", "cpu '2x' has an unknown suffix 'x'"),
        ("0.0005", "cpu '0.0005' is finer than one millicore"),
        ("-1", "cpu '-1' is negative"),
        (-1, "cpu -1 is negative"),
        ("two", "cpu 'two' is not a quantity"),
        (None, "cpu must be a number or a string like '500m', not null"),
    ],
)
def test_bad_cpu(value: object, message: str) -> None:
    assert_refused(parse_cpu, value, message)


@pytest.mark.parametrize(
    ("value", "size"),
    [("4Gi", 4 * 2**30), ("512Mi", 512 * 2**20), ("1.5G", 1_500_000_000), ("1000", 1000), (1024, 1024),
     ("1k", 1000), ("1.5Ki", 1536), ("2Ti", 2 * 2**40)],
)
def test_memory(value: object, size: int) -> None:
    assert parse_memory(value) == size


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("500m", "memory '500m' is in milli-bytes", "'m' means 1/1000; did you mean 500Mi or 500M?"),
        ("2GB", "memory '2GB' has an unknown suffix 'GB'", "did you mean 2Gi (2 x 1024^3 bytes, what memory is usually sized in) or 2G (2 x 1000^3 bytes)?"),
        ("4GiB", "memory '4GiB' has an unknown suffix 'GiB'", "did you mean 4Gi?"),
        ("1.5", "memory '1.5' is not a whole number of bytes", None),
        ("lots", "memory 'lots' is not a quantity", None),
    ],
)
def test_bad_memory(value: object, message: str, hint: str | None) -> None:
    assert_refused(parse_memory, value, message, hint)


@settings(deadline=None)
@given(st.integers(0, 10**7))
def test_cpu_format_round_trips(millicores: int) -> None:
    assert parse_cpu(format_cpu(millicores)) == millicores


@settings(deadline=None)
@given(st.one_of(st.integers(0, 2**62), st.integers(0, 4096).map(lambda n: n * 2**30)))
def test_memory_format_round_trips(size: int) -> None:
    assert parse_memory(format_memory(size)) == size


def test_formats_are_the_kubernetes_spellings() -> None:
    assert (format_cpu(500), format_cpu(2000), format_cpu(1500)) == ("500m", "2", "1500m")
    assert (format_memory(4 * 2**30), format_memory(1536), format_memory(1000)) == ("4Gi", "1536", "1000")
    assert (format_duration(5400), format_duration(61), format_duration(0)) == ("1h30m", "1m1s", "0s")


@settings(deadline=None)
@given(st.text(max_size=8))
def test_any_text_parses_or_raises_quantity_error(text: str) -> None:
    for parse in (parse_duration, parse_cpu, parse_memory):
        try:
            value = parse(text)
        except QuantityError:
            continue
        assert isinstance(value, int) and value >= 0
