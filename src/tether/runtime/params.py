"""Workflow parameters from the command line: `-p name=value`, checked against the input types.

A value is JSON when it parses as JSON (`-p n=10` is the int 10, `-p tags='["a"]'` a list),
otherwise the text itself. For a `str`, `file` or `dir` input the text is kept as typed even
when it would parse (`-p day=2024` stays "2024"), because that is what the person meant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..core.diagnostics import did_you_mean
from ..core.ir import Workflow
from ..core.types import accepts_value
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
