"""The `local` target: the plan `tether run` would follow on this machine, as text.

Running happens in `tether run` (tether.runtime.executor); what a local "compilation" can show
is the plan: the order tasks can start in, their inputs (resolved from defaults where that is
possible), their policies in words, and the `tether exec` command of each node. It is the
same text as `tether run SPEC --dry-run`, made deterministic: the store is shown as given
(`-o store=URI`, default `.tether`) and the run id as RUN_ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..core.diagnostics import Diagnostics
from ..core.ir import Workflow


@dataclass(frozen=True)
class LocalBackend:
    name: str = "local"
    description: str = "the plan `tether run` follows on this machine (same as --dry-run)"

    def compile(self, workflow: Workflow, diagnostics: Diagnostics, options: Mapping[str, str]) -> str:
        from ..runtime.params import resolve
        from ..runtime.plan import render

        values = resolve(workflow, {})
        return render(workflow, values, {}, options.get("store", ".tether"), options.get("run_id"))


backend = LocalBackend()
