"""Backends turn a validated Workflow into something a platform runs; one module per target.

The seam is one small protocol (`Backend`). Lookup follows sqlglot's dialects: the built-in
table first (modules imported only when their target is asked for, so `tether check` never
loads a backend), then the `tether.backends` entry-point group, so a plugin package can add a
target without touching tether, then an error with a did-you-mean:

    [project.entry-points."tether.backends"]
    nomad = "tether_nomad:backend"

A backend reports what its platform cannot express (E4xx target limits) as diagnostics, never
by raising, and returns the text to print or write (deterministic: same IR, same bytes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..core.diagnostics import Diagnostics
    from ..core.ir import Workflow

ENTRY_POINT_GROUP = "tether.backends"

BUILTIN: Mapping[str, str] = {
    "ir": "tether.backends.ir",
    "local": "tether.backends.local",
}
"""Target name -> module defining a module-level `backend` object."""


@runtime_checkable
class Backend(Protocol):
    """A compilation target. `compile` gets a validated, canonical Workflow."""

    name: str
    description: str

    def compile(self, workflow: Workflow, diagnostics: Diagnostics, options: Mapping[str, str]) -> str:
        """The compiled text; problems go to `diagnostics` (the caller writes nothing on errors)."""
        ...


class UnknownTargetError(LookupError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def get_backend(name: str) -> Backend:
    """The backend for a target name; raises UnknownTargetError with a did-you-mean."""
    if name in BUILTIN:
        return _as_backend(importlib.import_module(BUILTIN[name]), name)
    plugins = _entry_points()
    if name in plugins:
        return _as_backend(plugins[name].load(), name)
    from ..core.diagnostics import did_you_mean

    known = sorted({*BUILTIN, *plugins})
    guess = did_you_mean(name, known)
    hint = f"did you mean '{guess}'?" if guess else "targets: " + ", ".join(known)
    raise UnknownTargetError(f"unknown target '{name}'" + (f", did you mean '{guess}'?" if guess else ""), hint)


def available_targets() -> list[str]:
    return sorted({*BUILTIN, *_entry_points()})


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _as_backend(obj: object, name: str) -> Backend:
    """Accept a backend object, a module with a `backend` attribute, or a backend class."""
    candidate = getattr(obj, "backend", obj)
    if isinstance(candidate, type):
        candidate = candidate()
    if not isinstance(candidate, Backend):
        raise TypeError(f"target '{name}' does not provide a tether backend (got {type(candidate).__name__})")
    return candidate


__all__ = ["BUILTIN", "Backend", "ENTRY_POINT_GROUP", "UnknownTargetError", "available_targets", "get_backend"]
