"""Go's encoding/json as Argo's values go through it, and Argo's withItems/withParam `Item`.

Argo renders loop items and aggregated outputs with Go's json.Marshal: map keys sorted, `<>&`
HTML-escaped, float64 numbers in Go's shortest form (`1.0` -> `1`), and an `Item` keeps the raw
JSON text of each element (https://github.com/argoproj/argo-workflows/blob/main/pkg/apis/workflow/v1alpha1/item.go
`GetType`, `String`, `GetStrVal`; util/json `Fix` undoes the HTML escapes in `String`).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["Item", "compact", "go_float", "go_json", "items_from_json", "items_from_values", "unfix"]

_JSON = json.JSONDecoder()


def go_float(f: float) -> str:
    """strconv.FormatFloat as encoding/json's floatEncoder uses it ('f' unless exp < -6 or >= 21)."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {f}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = repr(f)
        mant, _, exp = s.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    return format(Decimal(repr(f)).normalize(), "f")


def _go_string(s: str, html: bool) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or (html and ch in "<>&") or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any, html: bool = True) -> str:
    """json.Marshal of a decoded JSON value (dict keys sorted, compact)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_string(value, html)
    if isinstance(value, RawJSON):
        return compact(value.text, html)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v, html) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(str(k), html)}:{go_json(value[k], html)}" for k in sorted(value)) + "}"
    raise TypeError(f"cannot marshal {type(value).__name__}")


class RawJSON:
    """json.RawMessage: text that json.Marshal compacts but does not re-encode."""

    def __init__(self, text: str) -> None:
        self.text = text


def compact(raw: str, html: bool = True) -> str:
    """json.Compact (plus the HTML escaping json.Marshal applies to a Marshaler's output)."""
    out, in_str, esc = [], False, False
    for ch in raw:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            if html and ch in "<>&":
                out.append(f"\\u{ord(ch):04x}")
                continue
            if ch in "\u2028\u2029":
                out.append(f"\\u{ord(ch):04x}")
                continue
            out.append(ch)
        elif ch == '"':
            in_str = True
            out.append(ch)
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)


def unfix(s: str) -> str:
    """util/json.Fix: undo json.Marshal's HTML escaping."""
    return s.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")


def _go_parse_int_ok(s: str) -> bool:
    body = s[1:] if s[:1] in "+-" else s
    return body.isdigit() and body.isascii()


def _go_parse_float_ok(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return s.strip() == s and s.lower() not in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


class Item:
    """One withItems/withParam element, held as raw JSON like Argo's `Item{Value json.RawMessage}`."""

    def __init__(self, raw: str) -> None:
        self.raw = raw

    @property
    def type(self) -> str:
        s = self.raw
        if _go_parse_int_ok(s) or _go_parse_float_ok(s):
            return "number"
        if s in ("1", "0", "t", "f", "T", "F", "true", "false", "TRUE", "FALSE", "True", "False"):
            return "bool"
        stripped = s.lstrip()
        if stripped.startswith("["):
            return "list"
        if stripped.startswith("{"):
            return "map"
        return "string"

    def __str__(self) -> str:
        """Item.String(): the normalised JSON, without the quotes of a string."""
        x = compact(self.raw, html=True)
        return unfix(x[1:-1] if x.startswith('"') else x)

    def str_val(self) -> str:
        value = json.loads(self.raw)
        return value if isinstance(value, str) else ""

    def map_items(self) -> dict[str, Item]:
        return _split_object(self.raw)

    def list_items(self) -> list[Item]:
        return _split_array(self.raw)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _split_array(text: str) -> list[Item]:
    i = _skip_ws(text, 0)
    if text[i : i + 1] != "[":
        raise ValueError("json: cannot unmarshal into a list")
    items: list[Item] = []
    i = _skip_ws(text, i + 1)
    if text[i : i + 1] == "]":
        return items
    while True:
        _, end = _JSON.raw_decode(text, i)
        items.append(Item(text[i:end]))
        i = _skip_ws(text, end)
        if text[i : i + 1] == "]":
            return items
        if text[i : i + 1] != ",":
            raise ValueError("invalid character in array")
        i = _skip_ws(text, i + 1)


def _split_object(text: str) -> dict[str, Item]:
    i = _skip_ws(text, 0)
    out: dict[str, Item] = {}
    i = _skip_ws(text, i + 1)
    if text[i : i + 1] == "}":
        return out
    while True:
        key, end = _JSON.raw_decode(text, i)
        i = _skip_ws(text, end)
        i = _skip_ws(text, i + 1)  # ':'
        _, end = _JSON.raw_decode(text, i)
        out[key] = Item(text[i:end])
        i = _skip_ws(text, end)
        if text[i : i + 1] == "}":
            return out
        i = _skip_ws(text, i + 1)  # ','


def items_from_json(text: str) -> list[Item]:
    """json.Unmarshal(withParam, &[]Item); raises ValueError when the text is not a JSON list."""
    json.loads(text, parse_constant=_reject_constant)  # validates the whole document, as Go does first
    return _split_array(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def items_from_values(values: list[Any]) -> list[Item]:
    """withItems from YAML: the CLI and API server hand Argo Go-marshalled JSON for each element."""
    return [Item(go_json(v)) for v in values]
