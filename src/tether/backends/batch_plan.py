"""Binding a compiled Batch plan to one run: its run id and the workflow inputs' values.

`tether submit` does this before it talks to AWS, and the tests do the same before the Batch
engine runs a plan, so both submit the same requests. A plan is only AWS requests, so what the
binding needs is read from them: `Ref::in_X` placeholders in a definition's command, their
defaults in the definition's `parameters`, and the `tether:foreach-input` tag of an array job
whose size is the length of a workflow input.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

from .batch import MAX_ARRAY_SIZE, NODE_PARAM, RUN_ID_PARAM, input_param

FOREACH_TAG = "tether:foreach-input"
TASK_TAG = "tether:task"


class PlanBindError(ValueError):
    """The values given do not fit the plan (an unknown or missing input, a bad list)."""


def plan_inputs(plan: Mapping[str, Any]) -> dict[str, str | None]:
    """Workflow inputs the plan's jobs read: name -> default engine text (None: required)."""
    out: dict[str, str | None] = {}
    for definition in plan.get("jobDefinitions", []):
        command = definition.get("containerProperties", {}).get("command", [])
        defaults = definition.get("parameters", {})
        for i, arg in enumerate(command):
            if arg.startswith("Ref::in_") and i > 0 and command[i - 1] == "--value":
                param = arg[len("Ref::"):]
                text = defaults.get(param)
                name = text.split("=", 1)[0][len("inputs."):] if text else param[len("in_"):]
                if out.get(name) is None:
                    out[name] = text.split("=", 1)[1] if text else None
    return out


def bind_plan(plan: Mapping[str, Any], run_id: str, values: Mapping[str, str] = {}) -> dict[str, Any]:
    """A copy of `plan` whose submissions carry `run_id` and each given input value (engine text).

    An array job sized by an input gets the size of the given list (one item: a plain job for
    node `task[0]`, as the backend compiles it). Raises PlanBindError when an input is unknown,
    a required one is missing, or a list does not fit an array job.
    """
    known = plan_inputs(plan)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PlanBindError(f"the plan reads no input {', '.join(map(repr, unknown))}; inputs: {', '.join(sorted(known)) or 'none'}")
    missing = sorted(n for n, default in known.items() if default is None and n not in values)
    if missing:
        raise PlanBindError(f"input {', '.join(map(repr, missing))} has no default: give it with -p NAME=VALUE")
    bound = copy.deepcopy(dict(plan))
    for sub in bound.get("submissions", []):
        params = sub.setdefault("parameters", {})
        if RUN_ID_PARAM in params:
            params[RUN_ID_PARAM] = run_id
        else:
            continue  # a barrier job runs no tether exec
        for name, text in sorted(values.items()):
            params[input_param(name)] = f"inputs.{name}={text}"
        sized_by = sub.get("tags", {}).get(FOREACH_TAG)
        if sized_by in values:
            _resize(sub, values[sized_by])
        sub["parameters"] = dict(sorted(sub["parameters"].items()))
    return bound


def _resize(sub: dict[str, Any], text: str) -> None:
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        items = None
    if not isinstance(items, list):
        raise PlanBindError(f"job {sub['jobName']}: fans out over {text!r}, which is not a JSON list")
    if not 1 <= len(items) <= MAX_ARRAY_SIZE:
        raise PlanBindError(f"job {sub['jobName']}: {len(items)} items; AWS Batch array jobs have 2 to {MAX_ARRAY_SIZE:,}")
    task = sub.get("tags", {}).get(TASK_TAG, sub["jobName"])
    sub["parameters"].pop(NODE_PARAM, None)
    sub.pop("arrayProperties", None)
    if len(items) == 1:
        sub["parameters"][NODE_PARAM] = f"{task}[0]"
    else:
        sub["arrayProperties"] = {"size": len(items)}


__all__ = ["FOREACH_TAG", "PlanBindError", "bind_plan", "plan_inputs"]
