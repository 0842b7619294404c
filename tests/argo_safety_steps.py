"""The task tests/test_argo_safety.py runs in the Argo engine: it echoes what it received."""

from __future__ import annotations

import os


def echo(literal: str = "", given: str = "") -> dict[str, str]:
    """Return the literal input, the workflow input and the container env value, as received."""
    return {"literal": literal, "given": given, "env": os.environ.get("SAFETY_VALUE", "")}


def make(values: list) -> dict:
    """Strings made at run time, returned whole, inside a map and inside lists."""
    return {"text": "|".join(values), "record": {v: [v] for v in values}, "texts": list(values),
            "records": [{"v": v} for v in values]}


def take(text: str, record: dict, texts: list) -> dict:
    """Return upstream outputs as received."""
    return {"text": text, "record": record, "texts": texts}


def one_text(s: str) -> str:
    """The one output `out`: the item as received."""
    return s


def one_record(r: dict) -> dict:
    """The one output `out`: the item as received."""
    return r


def gather(texts: list, records: list) -> dict:
    """Return a fan-out's aggregated outputs as received."""
    return {"texts": texts, "records": records}
