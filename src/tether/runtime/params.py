"""Workflow parameters from the command line: `-p name=value`, checked against the input types.

A value is JSON when it parses as JSON (`-p n=10` is the int 10, `-p tags='["a"]'` a list),
otherwise the text itself. For a `str`, `file` or `dir` input the text is kept as typed even
when it would parse (`-p day=2024` stays "2024"), because that is what the person meant.

A local run anchors its relative `file` and `dir` values (given or default, also inside lists
and dicts) to the directory `tether run` ran in, once, when the run is created (`anchor_paths`):
the absolute path is what the run records, what its cache keys hold and what its tasks get, so
a `--resume` or a cache look-up from another directory means the same files. Compilers never
call it: on Argo or Batch a path is a path inside the pod.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..core.diagnostics import did_you_mean
from ..core.ir import Workflow
from ..core.types import Type, accepts_value
from .outputs import json_value_problem


class ParamError(ValueError):
    """One or more `-p` values are unusable; the message lists every problem, one per line."""


@dataclass(frozen=True)
class BoundParams:
    given: dict[str, Any]  # what the person passed (stored with the run)
    values: dict[str, Any]  # every workflow input: given, else its default


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON (or absurdly nested JSON, refused below as text)
        return text


def bind(workflow: Workflow, pairs: Sequence[str]) -> BoundParams:
    problems: list[str] = []
    given: dict[str, Any] = {}
    mentioned: set[str] = set()
    for pair in pairs:
        name, eq, text = pair.partition("=")
        name = name.strip()
        if not eq or not name:
            problems.append(f"-p {pair}: expected NAME=VALUE")
            continue
        mentioned.add(name)
        declared = workflow.input(name)
        if declared is None:
            known = [i.name for i in workflow.inputs]
            guess = did_you_mean(name, known)
            hint = f"did you mean '{guess}'?" if guess else (
                f"inputs are: {', '.join(known)}" if known else "this workflow takes no inputs"
            )
            problems.append(f"-p {name}: workflow '{workflow.name}' has no input '{name}'; {hint}")
            continue
        value = _parse_value(text)
        if not accepts_value(declared.type, value) and accepts_value(declared.type, text):
            value = text
        problem = json_value_problem(value)
        if problem is not None:
            shown = text if len(text) <= 40 else text[:37] + "..."
            problems.append(f"-p {name}={shown}: not a value tether can store: {problem}")
            continue
        if not accepts_value(declared.type, value):
            problems.append(f"-p {name}={text}: expected {declared.type}, got {json.dumps(value)}")
            continue
        given[name] = value
    missing = [i.name for i in workflow.inputs if not i.has_default and i.name not in mentioned]
    if missing:
        listed = ", ".join(f"{name} ({workflow.input(name).type})" for name in missing)  # type: ignore[union-attr]
        example = " ".join(f"-p {name}=..." for name in missing)
        problems.append(f"missing required input{'s' if len(missing) > 1 else ''}: {listed}; pass {example}")
    if problems:
        raise ParamError("\n".join(problems))
    return BoundParams(given, resolve(workflow, given))


def resolve(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every input's value: the given one, else the default (inputs without either are absent)."""
    values: dict[str, Any] = {}
    for item in workflow.inputs:
        if item.name in given:
            values[item.name] = given[item.name]
        elif item.has_default:
            values[item.name] = item.default
    return values


def anchor_paths(workflow: Workflow, given: Mapping[str, Any], base: str) -> dict[str, Any]:
    """`given` with every relative `file`/`dir` value made absolute against `base`, plus the
    default of each input not given whose default holds a relative path (anchored the same way),
    so the recorded inputs mean the same files from any working directory."""
    anchored = dict(given)
    for item in workflow.inputs:
        if item.name in given:
            anchored[item.name] = _anchor(item.type, given[item.name], base)
        elif item.has_default:
            value = _anchor(item.type, item.default, base)
            if value != item.default:  # a default without relative paths stays a default
                anchored[item.name] = value
    return anchored


def _anchor(type_: Type, value: Any, base: str) -> Any:
    """`value` of type `type_` with its relative local paths joined to `base`; a URI
    (`s3://...`), an absolute path and an empty string are kept as they are."""
    if value is None:
        return None
    if type_.kind in ("file", "dir") and isinstance(value, str):
        if not value or "://" in value or os.path.isabs(value):
            return value
        # Joined, with `.` and empty parts dropped but `..` kept: `link/../x` means what the OS
        # makes of it through the link's target, which normpath would change into `x`.
        parts = [part for part in value.split(os.sep) if part not in ("", ".")]
        return os.path.join(base, *parts) if parts else base
    if type_.kind == "list" and isinstance(value, list):
        return [_anchor(type_.args[0], v, base) for v in value]
    if type_.kind == "dict" and isinstance(value, dict):
        return {k: _anchor(type_.args[1], v, base) for k, v in value.items()}
    return value
