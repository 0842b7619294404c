"""Binding a compiled Batch plan to one run: its run id and the workflow inputs' values.

`tether submit` does this before it talks to AWS, and the tests do the same before the Batch
engine runs a plan, so both submit the same requests. A plan is only AWS requests, so what the
binding needs is read from them: the declared inputs and their types from each definition's
`tether_inputs` parameter (no command references it), `Ref::in_X` placeholders in a definition's
command with their defaults in the definition's `parameters`, and the `tether:foreach-input` tag
of an array job whose size is the length of a workflow input.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

from ..core.ir import Workflow, WorkflowInput
from ..core.types import parse_type
from ..core.values import encode_text
from .batch import INPUTS_PARAM, MAX_ARRAY_SIZE, NODE_PARAM, RUN_ID_PARAM, input_param, size_problem

FOREACH_TAG = "tether:foreach-input"
TASK_TAG = "tether:task"


class PlanBindError(ValueError):
    """The values given do not fit the plan (an unknown, missing or mistyped input, a bad list,
    a job AWS would refuse as too large)."""


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


def _declared(plan: Mapping[str, Any]) -> Workflow | None:
    """The workflow's inputs as the plan records them (INPUTS_PARAM), or None for a plan
    compiled before they were recorded."""
    for definition in plan.get("jobDefinitions", []):
        text = definition.get("parameters", {}).get(INPUTS_PARAM)
        if text is None:
            continue
        signature = json.loads(text)
        inputs = tuple(WorkflowInput(name, parse_type(spec["type"]), has_default=not spec.get("required", False))
                       for name, spec in sorted(signature.items()))
        return Workflow(name=definition.get("tags", {}).get("tether:workflow", "workflow"), inputs=inputs)
    return None


def _check_values(plan: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """`values` as engine text, each checked against its input's declared type with the parser
    `tether run -p` uses (runtime.params.bind). Raises PlanBindError naming every problem."""
    from ..runtime.params import ParamError, bind

    declared = _declared(plan)
    if declared is None:  # an older plan: only the inputs its jobs read are known, untyped
        known = plan_inputs(plan)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PlanBindError(f"the plan reads no input {', '.join(map(repr, unknown))}; "
                                f"inputs: {', '.join(sorted(known)) or 'none'}")
        missing = sorted(n for n, default in known.items() if default is None and n not in values)
        if missing:
            raise PlanBindError(f"input {', '.join(map(repr, missing))} has no default: give it with -p NAME=VALUE")
        return dict(values)
    try:
        bound = bind(declared, [f"{name}={text}" for name, text in sorted(values.items())])
    except ParamError as exc:
        raise PlanBindError(str(exc)) from None
    types = {i.name: i.type for i in declared.inputs}
    return {name: encode_text(value, types[name]) for name, value in bound.given.items()}


def bind_plan(plan: Mapping[str, Any], run_id: str, values: Mapping[str, str] = {}) -> dict[str, Any]:
    """A copy of `plan` whose submissions carry `run_id` and the given input values (engine text)
    their own command reads.

    An array job sized by an input gets the size of the given list (one item: a plain job for
    node `task[0]`, as the backend compiles it). Raises PlanBindError when an input is unknown,
    a required one is missing, a value does not fit the input's type, a list does not fit an
    array job, or a job would exceed AWS's request limits.
    """
    texts = _check_values(plan, values)
    definitions = {d.get("jobDefinitionName"): d for d in plan.get("jobDefinitions", [])}
    bound = copy.deepcopy(dict(plan))
    for sub in bound.get("submissions", []):
        params = sub.setdefault("parameters", {})
        if RUN_ID_PARAM in params:
            params[RUN_ID_PARAM] = run_id
        else:
            continue  # a barrier job runs no tether exec
        definition = definitions.get(sub.get("jobDefinition"), {})
        command = set(definition.get("containerProperties", {}).get("command", []))
        for name, text in sorted(texts.items()):
            if f"Ref::{input_param(name)}" in command:  # only what this job's command reads
                params[input_param(name)] = f"inputs.{name}={text}"
        sized_by = sub.get("tags", {}).get(FOREACH_TAG)
        if sized_by in texts:
            _resize(sub, texts[sized_by])
        sub["parameters"] = dict(sorted(sub["parameters"].items()))
        problem = size_problem(definition, sub) if definition else None
        if problem is not None:
            raise PlanBindError(f"job {sub['jobName']}: {problem}; pass a large value as a file in the store")
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
