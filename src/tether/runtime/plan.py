"""`tether run --dry-run`: what would run, in which order, with which values and policies.

Nothing is run and nothing is written to the store. Values that depend only on workflow inputs
are shown resolved; values that need an upstream task's outputs are shown as their expression.
The text is rendered by templates/plan.txt.j2 (jinja2 renders what a person reads).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

from ..core.expr import EvaluationError, Expr, Ref, evaluate, refs, to_template, unparse
from ..core.ir import Task, Workflow
from .worker import exec_command

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True)
class PlannedValue:
    name: str
    text: str  # a resolved JSON value, or the expression when it waits for upstream outputs
    note: str = ""


@dataclass(frozen=True)
class PlannedTask:
    position: int
    name: str
    runs: str  # "python mod:fn" or "container IMAGE: command"
    nodes: str  # "1 node" / "foreach: 4 nodes simulate[0..3]" / "foreach: known when plan finishes"
    inputs: tuple[PlannedValue, ...]
    after: tuple[str, ...]
    when: str | None
    policy: str
    command: str


class _Unknown(Exception):
    """The value needs outputs of a task that has not run."""


def _static(expr: Expr, params: Mapping[str, Any]) -> Any:
    def resolve(ref: Ref) -> object:
        if ref.root == "inputs" and ref.name is not None and ref.name in params:
            return params[ref.name]
        raise _Unknown

    return evaluate(expr, resolve)


def _show(expr: Expr, params: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return json.dumps(_static(expr, params), sort_keys=True), ""
    except _Unknown:
        found = refs(expr)
        missing = sorted({r.name for r in found if r.root == "inputs" and r.name not in params and r.name})
        waits = sorted({r.task for r in found if r.root == "tasks" and r.task})
        if missing:
            note = "needs " + " ".join(f"-p {name}=..." for name in missing)
        elif waits:
            note = f"known when {', '.join(waits)} finish{'es' if len(waits) == 1 else ''}"
        else:
            note = "per item"
        return to_template(expr), note
    except EvaluationError as exc:
        return to_template(expr), f"will fail: {exc}"


def duration_words(seconds: float) -> str:
    """30 -> '30s', 600 -> '10m', 5400 -> '1h30m', 7200 -> '2h'."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def policy_words(task: Task) -> str:
    """'retries 3 (backoff 30s x2 up to 10m), interruptible (3 interruptions), checkpoint keep 3, timeout 2h'."""
    words = []
    retry = task.retry
    if retry.retries == 0:
        words.append("no retries")
    else:
        backoff = retry.backoff
        if backoff is None:
            how = "no backoff"
        else:
            how = f"backoff {duration_words(backoff.delay_s)}"
            if backoff.factor != 1:
                how += f" x{backoff.factor:g}"
            if backoff.max_delay_s is not None:
                how += f" up to {duration_words(backoff.max_delay_s)}"
        words.append(f"retries {retry.retries} ({how})")
    if task.interruptible is not None:
        count = task.interruptible.max_interruptions
        words.append(f"interruptible ({count} interruption{'s' if count != 1 else ''})")
    else:
        words.append("not interruptible (an interruption uses a retry)")
    if task.checkpoint is not None:
        words.append(f"checkpoint keep {task.checkpoint.keep}")
    words.append(f"timeout {duration_words(task.timeout_s)}" if task.timeout_s else "no timeout")
    return ", ".join(words)


def _argument(expr: Expr, params: Mapping[str, Any]) -> str:
    """One command-line word as the attempt would pass it (JSON for non-strings), or its expression."""
    try:
        value = _static(expr, params)
    except (_Unknown, EvaluationError):
        return to_template(expr)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _runs(task: Task, params: Mapping[str, Any], width: int = 120) -> str:
    if task.container is None:
        return f"python {task.python}"
    image = task.image or "(no image)"
    words = [_argument(expr, params) for expr in (*task.container.command, *task.container.args)]
    shown = shlex.join(words).replace("\n", "\\n")  # a multi-line script stays on one line
    if len(shown) > width:
        shown = shown[: width - 3] + "..."
    return f"container {image}: {shown}"


def _nodes(task: Task, params: Mapping[str, Any]) -> tuple[str, str]:
    """(description, the first node id) of the nodes a task becomes."""
    if task.foreach is None:
        return "1 node", task.name
    try:
        items = _static(task.foreach, params)
    except (_Unknown, EvaluationError):
        unknown = f"foreach {unparse(task.foreach)}: one node {task.name}[i] per item, known when its upstreams finish"
        return unknown, f"{task.name}[0]"
    count = len(items) if isinstance(items, list) else 0
    return f"foreach: {count} node{'s' if count != 1 else ''} {task.name}[0..{max(count - 1, 0)}]", f"{task.name}[0]"


def build(workflow: Workflow, params: Mapping[str, Any], store_uri: str, run_id: str | None) -> list[PlannedTask]:
    planned = []
    for position, task in enumerate(workflow.tasks, start=1):
        nodes, first_node = _nodes(task, params)
        inputs = tuple(PlannedValue(b.name, *_show(b.value, params)) for b in task.inputs)
        command = shlex.join(exec_command(store_uri, run_id or "RUN_ID", first_node, 1))
        planned.append(
            PlannedTask(
                position=position,
                name=task.name,
                runs=_runs(task, params),
                nodes=nodes,
                inputs=inputs,
                after=task.after,
                when=None if task.when is None else to_template(task.when),
                policy=policy_words(task),
                command=command,
            )
        )
    return planned


@lru_cache(maxsize=1)
def _environment() -> "jinja2.Environment":
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("tether", "templates"),
        autoescape=False,  # plain text for a terminal, not HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(
    workflow: Workflow, params: Mapping[str, Any], given: Mapping[str, Any], store_uri: str, run_id: str | None
) -> str:
    """The plan as text. `params`: every input's value; `given`: those passed with -p."""
    inputs = []
    for item in workflow.inputs:
        source = "given" if item.name in given else ("default" if item.has_default else "missing")
        value = json.dumps(params[item.name], sort_keys=True) if item.name in params else "?"
        inputs.append(PlannedValue(item.name, value, f"{item.type}, {source}"))
    outputs = [PlannedValue(o.name, *_show(o.value, params)) for o in workflow.outputs]
    return _environment().get_template("plan.txt.j2").render(
        workflow=workflow,
        run_id=run_id,
        store_uri=store_uri,
        inputs=inputs,
        tasks=build(workflow, params, store_uri, run_id),
        outputs=outputs,
        container_tasks=any(t.container is not None for t in workflow.tasks),
    )


def _value_json(expr: Expr, params: Mapping[str, Any]) -> dict[str, Any]:
    """{"value": V} when known now, else {"expression": "${{ ... }}", "note": why it is not}."""
    try:
        return {"value": _static(expr, params)}
    except (_Unknown, EvaluationError):
        text, note = _show(expr, params)
        return {"expression": text, "note": note}


def plan_json(
    workflow: Workflow, params: Mapping[str, Any], given: Mapping[str, Any], store_uri: str, run_id: str | None
) -> dict[str, Any]:
    """The plan `render` shows, as data (`tether run --dry-run --json`): values known now are
    JSON values, the others their expression with the same note as the text plan."""
    inputs: dict[str, Any] = {}
    for item in workflow.inputs:
        source = "given" if item.name in given else ("default" if item.has_default else "missing")
        entry: dict[str, Any] = {"type": str(item.type), "source": source}
        if item.name in params:
            entry["value"] = params[item.name]
        inputs[item.name] = entry
    tasks = []
    for planned, task in zip(build(workflow, params, store_uri, run_id), workflow.tasks):
        tasks.append(
            {
                "position": planned.position,
                "name": planned.name,
                "runs": planned.runs,
                "nodes": planned.nodes,
                "after": list(planned.after),
                "when": planned.when,
                "inputs": {b.name: _value_json(b.value, params) for b in task.inputs},
                "policy": planned.policy,
                "command": shlex.split(planned.command),
            }
        )
    return {
        "dry_run": True,
        "workflow": workflow.name,
        "store": store_uri,
        "run_id": run_id,
        "inputs": inputs,
        "tasks": tasks,
        "outputs": {o.name: _value_json(o.value, params) for o in workflow.outputs},
    }
