"""Durations and Kubernetes quantities, parsed strictly into canonical integer units.

`timeout: 1h30m` becomes 5400 seconds, `cpu: 500m` 500 millicores, `memory: 4Gi` 4294967296
bytes. The IR keeps only these integers; each backend formats them back for its platform with
`format_duration`, `format_cpu` and `format_memory`, which are exact inverses on their outputs.

Parsing is strict because a typo here silently changes what a job costs: `memory: 500m` is
valid Kubernetes (half a byte) but never what anyone meant, so it is an error with a hint.
Arithmetic uses Fraction so `0.1` cores is exactly 100 millicores, not 100.00000000000001.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from fractions import Fraction


class QuantityError(ValueError):
    """A duration or quantity that does not parse; `hint` says what would."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


# ---------------------------------------------------------------------------- durations

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.ASCII)
_DURATION_HINT = "write a duration like 90s, 15m, 6h, 1h30m or 2d (units d, h, m, s, largest first)"


def parse_duration(value: object) -> int:
    """Seconds from `90s`, `15m`, `6h`, `1h30m`, `2d`, or a plain non-negative integer of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise QuantityError(f"a duration must be a string like '15m', not {_kind(value)}", _DURATION_HINT)
    if isinstance(value, int):
        if value < 0:
            raise QuantityError(f"duration {value} is negative", _DURATION_HINT)
        return value
    text = value.strip()
    if text.isascii() and text.isdigit():  # not '²', which isdigit() but int() refuses
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        hint = _DURATION_HINT
        if re.fullmatch(r"\d+\.\d+[dhms]", text):
            hint = "fractions are not allowed: write 1h30m rather than 1.5h"
        elif re.fullmatch(r"(\d+[dhms])+", text):
            hint = "each unit at most once, largest first: 1h30m, not 30m1h"
        elif re.fullmatch(r"\d+\s*(ms|us|ns)", text):
            hint = "the smallest unit is a second"
        elif re.fullmatch(r"\d+\s*[A-Za-z]+", text):
            hint = "units are d, h, m and s (lowercase), largest first: 1h30m"
        raise QuantityError(f"invalid duration '{value}'", hint)
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: int) -> str:
    """The spelling people write, which `parse_duration` reads back: 5400 -> '1h30m', 0 -> '0s'."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# ---------------------------------------------------------------------------- quantities

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)(?P<suffix>[A-Za-z]*)", re.ASCII)
_CPU_HINT = "write CPU as cores (2, 0.5) or millicores (500m)"
_MEMORY_HINT = "write memory with a binary suffix (512Mi, 4Gi) or a decimal one (500M, 2G), or plain bytes"


def _number(value: object, what: str, hint: str) -> tuple[Fraction, str]:
    """Split a quantity into an exact non-negative number and its suffix."""
    from fractions import Fraction  # imported on use: `tether check` of a spec without resources skips it

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise QuantityError(f"{what} must be a number or a string like '500m', not {_kind(value)}", hint)
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise QuantityError(f"invalid {what} {value}", hint)
        if value < 0:
            raise QuantityError(f"{what} {value} is negative", hint)
        return Fraction(str(value)), ""
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        problem = "is negative" if value.strip().startswith("-") else "is not a quantity"
        raise QuantityError(f"{what} '{value}' {problem}", hint)
    return Fraction(match.group("number")), match.group("suffix")


def parse_cpu(value: object) -> int:
    """Millicores from `500m`, `2`, `0.5`, `1.5`: the Kubernetes CPU quantity forms."""
    return _cached(_parse_cpu, value)


def parse_memory(value: object) -> int:
    """Bytes from `4Gi`, `512Mi`, `1.5G`, `1000`: the Kubernetes memory quantity forms."""
    return _cached(_parse_memory, value)


def _cached(parse: Callable[[object], int], value: object) -> int:
    """`parse(value)`, remembered for scalars: a spec repeats one `cpu: 500m` in every task, and
    exact Fraction arithmetic costs more than the lookup. Errors are not cached (re-raised each time)."""
    if isinstance(value, (str, int, float)):
        return _remembered(parse, value)
    return parse(value)


@lru_cache(maxsize=4096, typed=True)  # typed: 1, 1.0 and True are different quantities
def _remembered(parse: Callable[[object], int], value: str | int | float) -> int:
    return parse(value)


def _parse_cpu(value: object) -> int:
    number, suffix = _number(value, "cpu", _CPU_HINT)
    if suffix == "m":
        millicores = number
    elif suffix == "":
        millicores = number * 1000
    else:
        raise QuantityError(f"cpu '{value}' has an unknown suffix '{suffix}'", _CPU_HINT)
    if millicores.denominator != 1:
        raise QuantityError(f"cpu '{value}' is finer than one millicore", "the smallest CPU request is 1m")
    return int(millicores)


def _parse_memory(value: object) -> int:
    number, suffix = _number(value, "memory", _MEMORY_HINT)
    if suffix in _BINARY:
        size = number * _BINARY[suffix]
    elif suffix in _DECIMAL:
        size = number * _DECIMAL[suffix]
    elif suffix == "":
        size = number
    elif suffix == "m":
        raise QuantityError(
            f"memory '{value}' is in milli-bytes",
            f"'m' means 1/1000; did you mean {_digits(value)}Mi or {_digits(value)}M?",
        )
    else:
        hint = _suffix_hint(value, suffix)
        raise QuantityError(f"memory '{value}' has an unknown suffix '{suffix}'", hint)
    if size.denominator != 1:
        raise QuantityError(f"memory '{value}' is not a whole number of bytes", _MEMORY_HINT)
    return int(size)


def format_cpu(millicores: int) -> str:
    """Kubernetes spelling: whole cores as '2', anything else as '500m'."""
    if millicores < 0:
        raise ValueError("cpu cannot be negative")
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(size: int) -> str:
    """Kubernetes spelling: the largest binary suffix that divides exactly, else plain bytes."""
    if size < 0:
        raise ValueError("memory cannot be negative")
    for suffix, unit in reversed(_BINARY.items()):
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


# Kubernetes quantities: Ki/Mi/Gi/Ti are powers of 1024, k/M/G/T powers of 1000
# (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
_AMBIGUOUS = {"K": ("Ki", "k", 1), "KB": ("Ki", "k", 1), "MB": ("Mi", "M", 2), "GB": ("Gi", "G", 3), "TB": ("Ti", "T", 4)}
_SPELLED_OUT = {"KiB": "Ki", "MiB": "Mi", "GiB": "Gi", "TiB": "Ti"}


def _suffix_hint(value: object, suffix: str) -> str:
    """`4GB` -> did you mean 4Gi or 4G, and what each means (GB is ambiguous: people mean both)."""
    digits = _digits(value)
    if suffix in _AMBIGUOUS:
        binary, decimal, power = _AMBIGUOUS[suffix]
        return (
            f"did you mean {digits}{binary} ({digits} x 1024^{power} bytes, what memory is usually sized in) "
            f"or {digits}{decimal} ({digits} x 1000^{power} bytes)?"
        )
    if suffix in _SPELLED_OUT:
        return f"did you mean {digits}{_SPELLED_OUT[suffix]}?"
    return _MEMORY_HINT


def _digits(value: object) -> str:
    match = re.match(r"[\d.]+", str(value).strip())
    return match.group(0) if match else str(value)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{value!r}"


__all__ = [
    "QuantityError",
    "format_cpu",
    "format_duration",
    "format_memory",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
]
