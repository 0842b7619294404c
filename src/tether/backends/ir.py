"""The `ir` target: the validated IR itself as stable JSON (what every other backend reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.diagnostics import Diagnostics
from ..core.ir import Workflow, to_json


@dataclass(frozen=True)
class IRBackend:
    name: str = "ir"
    description: str = "the typed DAG IR as JSON (sorted keys, versioned)"

    def compile(self, workflow: Workflow, diagnostics: Diagnostics, options: Mapping[str, str]) -> str:
        return to_json(workflow)


backend = IRBackend()
