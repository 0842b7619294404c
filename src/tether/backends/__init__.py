"""Backends turn a validated Workflow into manifests a platform runs; one module per target.

The seam is one small protocol (`Backend`): `compile(workflow, profile, diagnostics)` returns
`Manifest`s (a relative file name plus plain data); the CLI serialises and writes them, so no
backend touches files or YAML text. Lookup follows sqlglot's dialects: the built-in table
first (modules imported only when their target is asked for, so `tether check` never loads a
backend), then the `tether.backends` entry-point group, so a plugin package can add a target
without touching tether, then an error with a did-you-mean:

    [project.entry-points."tether.backends"]
    nomad = "tether_nomad:backend"

A backend reports what its platform cannot express as diagnostics (`diagnostics.unsupported`
for features the target lacks, so `--unsupported=warn` can let them through), never by raising,
and is deterministic: same IR and profile, same manifests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable

from .profile import Profile

if TYPE_CHECKING:
    from ..core.diagnostics import Diagnostics
    from ..core.ir import Workflow

ENTRY_POINT_GROUP = "tether.backends"

BUILTIN: Mapping[str, str] = {
    "argo": "tether.backends.argo",
    "batch": "tether.backends.batch",
    "ir": "tether.backends.ir",
    "local": "tether.backends.local",
}
"""Target name -> module defining a module-level `backend` object."""

MANIFEST_FORMATS = ("yaml", "json", "text")


@dataclass(frozen=True)
class Manifest:
    """One file a compilation produces. `document` is plain data (dict/list/str/int/float/bool/
    None), or the file's text when `format` is "text"; the CLI serialises it."""

    path: str
    """Relative file name, "/"-separated, e.g. "checkpointing-example.yaml"."""
    document: Any
    format: str = "yaml"
    """"yaml" | "json" | "text"."""


@runtime_checkable
class Backend(Protocol):
    """A compilation target. `compile` gets a validated, canonical Workflow."""

    name: str
    description: str
    profile_type: type | None
    """A frozen dataclass: this target's section of the profile file (None: it has none)."""

    def compile(self, workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> list[Manifest]:
        """The manifests; problems go to `diagnostics` (the caller writes nothing on errors)."""
        ...


class UnknownTargetError(LookupError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def get_backend(name: str) -> Backend:
    """The backend for a target name; raises UnknownTargetError with a did-you-mean."""
    if name in BUILTIN:
        try:
            module = importlib.import_module(BUILTIN[name])
        except ModuleNotFoundError as exc:
            if exc.name != BUILTIN[name]:
                raise
        else:
            return _as_backend(module, name)
    plugins = _entry_points()
    if name in plugins:
        return _as_backend(plugins[name].load(), name)
    from ..core.diagnostics import did_you_mean

    known = available_targets()
    guess = did_you_mean(name, known)
    hint = f"did you mean '{guess}'?" if guess else "targets: " + ", ".join(known)
    raise UnknownTargetError(f"unknown target '{name}'" + (f", did you mean '{guess}'?" if guess else ""), hint)


def available_targets() -> list[str]:
    """Built-in targets whose module is present, and every plugin's."""
    from importlib.util import find_spec

    builtin = {name for name, module in BUILTIN.items() if find_spec(module) is not None}
    return sorted({*builtin, *_entry_points()})


def profile_type_of(backend: Backend) -> type | None:
    """The backend's profile section type; a plugin written before profiles existed has none."""
    return getattr(backend, "profile_type", None)


def resolve_images(workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> Workflow:
    """Fill `Task.image` from the profile's default image for tasks whose spec names none, and
    report (located) each task left without one. For targets that run every task in an image
    (argo, batch); `local` runs on this machine and needs none."""
    from ..core.placeholders import evolve

    tasks = []
    for task in workflow.tasks:
        if task.image is None and profile.image:
            task = evolve(task, image=profile.image)
        elif task.image is None:
            diagnostics.error(
                "E411", f"task '{task.name}' has no image", task.span,
                "set `image:` on the task or in spec.defaults, or `image:` in the profile (--profile FILE)",
            )
        tasks.append(task)
    return evolve(workflow, tasks=tuple(tasks))


def warn_without_store(workflow: Workflow, profile: Profile, diagnostics: Diagnostics, runner: str) -> None:
    """E420 for a cluster target whose profile names no run store: it still compiles, and each
    `runner` (pod, job) must then get TETHER_STORE from its environment; `tether exec` refuses a
    cluster attempt with neither, so the omission cannot silently lose checkpoints."""
    if not profile.store:
        diagnostics.warning(
            "E420", f"no run store in the profile: every {runner} must get TETHER_STORE from its environment "
            "(tether exec refuses to run a cluster attempt without one)", workflow.span,
            "set `store: s3://BUCKET/PREFIX` in the profile (--profile FILE), or TETHER_STORE in the image",
        )


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _as_backend(obj: object, name: str) -> Backend:
    """Accept a backend object, a module with a `backend` attribute, or a backend class."""
    candidate = getattr(obj, "backend", obj)
    if isinstance(candidate, type):
        candidate = candidate()
    if not all(hasattr(candidate, attr) for attr in ("name", "description")) or not callable(
        getattr(candidate, "compile", None)
    ):
        raise TypeError(f"target '{name}' does not provide a tether backend (got {type(candidate).__name__})")
    return candidate  # type: ignore[return-value]


__all__ = [
    "BUILTIN",
    "Backend",
    "ENTRY_POINT_GROUP",
    "MANIFEST_FORMATS",
    "Manifest",
    "Profile",
    "UnknownTargetError",
    "available_targets",
    "get_backend",
    "profile_type_of",
    "resolve_images",
    "warn_without_store",
]
