"""The task tests/test_argo_safety.py runs in the Argo engine: it echoes what it received."""

from __future__ import annotations

import os


def echo(literal: str = "", given: str = "") -> dict[str, str]:
    """Return the literal input, the workflow input and the container env value, as received."""
    return {"literal": literal, "given": given, "env": os.environ.get("SAFETY_VALUE", "")}
