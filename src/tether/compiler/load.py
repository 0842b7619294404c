"""One entry point from a SPEC argument to a validated, canonical Workflow (or diagnostics).

SPEC is a YAML file (`*.yaml`/`*.yml`), a Python file with a workflow (`path/to/file.py:name`)
or an importable module with a workflow (`package.module:name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.diagnostics import Diagnostic, Diagnostics, Span
from ..core.ir import Workflow, canonical


@dataclass(frozen=True)
class LoadResult:
    workflow: Workflow | None  # None when there are errors
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """File name -> text of every file a diagnostic may point into, for rendering carets."""

    @property
    def ok(self) -> bool:
        return self.workflow is not None


def is_yaml_ref(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml")) or ref == "-"


def _unknown_kind(ref: str, diags: Diagnostics) -> None:
    """A SPEC that is neither a `.yaml` file nor `file.py:workflow` / `pkg.mod:workflow`: a
    directory or a device is said as such (with no line it does not have), anything else E100."""
    import os
    import stat

    hint = "give a YAML file (spec.yaml), a Python file and workflow (file.py:workflow) or a module (pkg.mod:workflow)"
    try:
        mode = os.stat(ref).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        inside = sorted(p for p in os.listdir(ref) if p.endswith((".yaml", ".yml")))[:1] if os.access(ref, os.R_OK) else []
        example = os.path.join(ref, inside[0] if inside else "spec.yaml")
        diags.error("E101", f"cannot read '{ref}': it is a directory, not a spec", None,
                    f"give a spec file inside it, e.g. {example} (or {os.path.join(ref, '*.yaml')} for all of them)")
    elif mode is not None and not stat.S_ISREG(mode):
        diags.error("E101", f"cannot read '{ref}': it is not a regular file", None, hint)
    else:
        if Path(ref).suffix == ".py":
            hint = f"name the workflow function too: {ref}:WORKFLOW"
        diags.error("E100", f"cannot tell what kind of spec '{ref}' is", Span(ref, 1, 1) if mode is not None else None, hint)


def load(ref: str, *, strict_refs: bool = False) -> LoadResult:
    """`strict_refs`: a Python task module of a YAML spec that cannot be found or parsed is an
    error rather than a warning (the CLI's `--strict-refs`)."""
    diags = Diagnostics()
    sources: dict[str, str] = {}
    workflow: Workflow | None
    if is_yaml_ref(ref):
        from .yaml.spec import compile_yaml_file

        workflow = compile_yaml_file(ref, diags, sources)
    elif ":" in ref:
        from .python.spec import compile_python_ref

        workflow = compile_python_ref(ref, diags, sources)
    else:
        _unknown_kind(ref, diags)
        workflow = None
    if workflow is not None:  # partial IR from a broken spec still gets graph checks
        from .validate import validate

        workflow = validate(workflow, diags)
        # YAML only: a Python spec's tasks were imported, so their refs are real already.
        if is_yaml_ref(ref) and any(task.python for task in workflow.tasks):
            from .python_refs import check_python_refs

            check_python_refs(workflow, ref, diags, sources, strict=strict_refs)
    if diags.has_errors:
        return LoadResult(None, tuple(diags.sorted()), sources)
    assert workflow is not None
    return LoadResult(canonical(workflow), tuple(diags.sorted()), sources)
