"""The `ir` target: the validated IR itself as stable JSON (what every other backend reads)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.diagnostics import Diagnostics
from ..core.ir import Workflow, to_dict
from . import Manifest
from .profile import Profile


@dataclass(frozen=True)
class IRBackend:
    name: str = "ir"
    option_keys: tuple[str, ...] = ()  # it reads no -O key
    description: str = "the typed DAG IR as JSON (sorted keys, versioned)"
    profile_type: type | None = None

    def compile(self, workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> list[Manifest]:
        """One `<workflow>.json`; the CLI prints JSON with sorted keys, exactly `ir.to_json`."""
        return [Manifest(f"{workflow.name}.json", to_dict(workflow), "json")]


backend = IRBackend()
