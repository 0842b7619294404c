"""The `local` target: the plan `tether run` would follow on this machine, as text.

Running happens in `tether run` (tether.runtime.executor); what a local "compilation" can show
is the plan: the order tasks can start in, their inputs (resolved from defaults where that is
possible), their policies in words, and the `tether exec` command of each node. It is the
same text as `tether run SPEC --dry-run`, made deterministic: the store is shown as given
(`-O store=URI`, else the profile's `store`, default `.tether`) and the run id as RUN_ID
(`-O run_id=ID` to show one). Tasks run on this machine, so no image is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.diagnostics import Diagnostics
from ..core.ir import Workflow
from . import Manifest
from .profile import Profile

DEFAULT_STORE = ".tether"


@dataclass(frozen=True)
class LocalBackend:
    name: str = "local"
    option_keys: tuple[str, ...] = ("run_id", "store")  # -O keys it reads (`compile`)
    description: str = "the plan `tether run` follows on this machine (same as --dry-run)"
    profile_type: type | None = None

    def compile(self, workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> list[Manifest]:
        from ..runtime.params import resolve
        from ..runtime.plan import render

        values = resolve(workflow, {})
        store = profile.options.get("store") or profile.store or DEFAULT_STORE
        text = render(workflow, values, {}, store, profile.options.get("run_id"))
        return [Manifest(f"{workflow.name}.plan.txt", text, "text")]


backend = LocalBackend()
