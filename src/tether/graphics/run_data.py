"""What a run report shows, read from a run store (any fsspec URI) into plain JSON-able data.

`tether report RUN --json` prints exactly this, and the HTML page is drawn from it.

Secrets: the store never holds a secret's value (a local run reads it from the environment at
attempt time, and `tether exec` masks secret values in every message it records), so what is
shown here is what the store has: inputs and outputs as recorded, and secrets by name only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.graph import parse_node_id
from ..runtime.inputs import InputError, ValueResolver, resolve_item, resolve_task_inputs
from ..runtime.store import AttemptRecord, RunStore, StoreError
from .model import graph_of

if TYPE_CHECKING:
    from ..core.ir import Task, Workflow

# Worst first: a task's colour is its worst node's status.
STATUS_RANK = ("failed", "running", "retrying", "stopped", "pending", "skipped", "cached", "done")
OUTCOME_LABELS = {
    "success": "ok",
    "recoverable": "retried failure",
    "interrupted": "interrupted",
    "timeout": "timeout",
    "fatal": "fatal",
    "cancelled": "cancelled",
    None: "running or lost",
}


def collect(store: RunStore, run_id: str) -> dict[str, Any]:
    """The report data of one run. Raises StoreError (RunNotFound) when there is no such run."""
    record = store.load_run(run_id)
    workflow = record.workflow
    status = store.read_status(run_id) or {}
    recorded = set(store.list_nodes(run_id))
    resolver = ValueResolver(store, run_id, workflow, record.params)
    node_status: dict[str, Any] = status.get("nodes") or {}
    tasks, nodes, counts = [], [], {}
    for task in workflow.tasks:
        ids = _node_ids(store, run_id, task, recorded)
        if task.foreach is not None and ids is not None:
            counts[task.name] = len(ids)
        task_nodes = [_node(store, run_id, task, node, resolver, node_status.get(node)) for node in ids or [task.name]]
        if task.foreach is not None and not ids:
            task_nodes = [dict(task_nodes[0], status=_task_status_without_items(store, run_id, task, node_status))]
        nodes += task_nodes
        statuses = [n["status"] for n in task_nodes]
        tasks.append(
            {
                "task": task.name,
                "status": min(statuses, key=STATUS_RANK.index) if statuses else "pending",
                "counts": {s: statuses.count(s) for s in sorted(set(statuses))},
                "nodes": [n["id"] for n in task_nodes],
                "secrets": [f"{s.name}/{s.key} -> {s.env}" for s in task.secrets],
            }
        )
    cluster = _read_json(store, f"{store.run_path(run_id)}/cluster.json")
    return {
        "run_id": run_id,
        "workflow": workflow.name,
        "spec": record.spec,
        "store": store.uri,
        "created": record.created,
        "kind": "cluster" if cluster else "local",
        "status": status.get("status") or _run_status(tasks),
        "params": dict(record.params),
        "outputs": status.get("outputs") or {},
        "graph": graph_of(workflow, counts).to_json(),
        "tasks": tasks,
        "nodes": nodes,
        "timeline": _timeline(nodes),
    }


def _node_ids(store: RunStore, run_id: str, task: "Task", recorded: set[str]) -> list[str] | None:
    """A foreach task's item node ids from its recorded decision (else the nodes seen in the
    store); None when the fan-out has not been decided yet."""
    if task.foreach is None:
        return [task.name]
    decision = store.read_decision(run_id, task.name)
    if decision is not None and decision.get("items") is not None:
        return [f"{task.name}[{i}]" for i in range(len(decision["items"]))]
    items = sorted(
        (index, node) for node in recorded for name, index in [_split(node)] if name == task.name and index is not None
    )
    return [node for _, node in items] or None


def _split(node: str) -> tuple[str, int | None]:
    try:
        return parse_node_id(node)
    except ValueError:
        return node, None


def _node(
    store: RunStore, run_id: str, task: "Task", node: str, resolver: ValueResolver, recorded: dict[str, Any] | None
) -> dict[str, Any]:
    attempts = store.attempts(run_id, node)
    outputs = store.read_outputs(run_id, node)
    skipped = store.read_skipped(run_id, task.name)
    commits = _commits(store, run_id, node)
    return {
        "id": node,
        "task": task.name,
        "status": _status(recorded, task, attempts, outputs, skipped),
        "skipped": skipped.get("reason") if skipped else None,
        "inputs": _inputs(resolver, task, node) if not skipped else {},
        "outputs": outputs,
        "attempts": _attempts(attempts, commits),
        "checkpoints_kept": [c["seq"] for c in commits],
    }


def _status(
    recorded: dict[str, Any] | None, task: "Task", attempts: list[AttemptRecord], outputs: Any, skipped: Any
) -> str:
    if recorded and recorded.get("status"):
        return str(recorded["status"])  # the executor's own verdict (status.json)
    if outputs is not None:
        return "done"
    if skipped is not None:
        return "skipped"
    if not attempts:
        return "pending"
    last = attempts[-1].outcome
    if last is None:
        return "running"
    if last == "fatal":
        return "failed"
    # No executor verdict (a cluster run, or a killed `tether run`): the journal decides, as
    # `tether exec` and `--resume` would, whether another attempt may still come.
    from ..runtime.retry import next_step

    return "stopped" if last == "cancelled" or next_step(task, attempts).retry else "failed"


def _task_status_without_items(store: RunStore, run_id: str, task: "Task", recorded: dict[str, Any]) -> str:
    if store.read_skipped(run_id, task.name) is not None:
        return "skipped"
    return str((recorded.get(task.name) or {}).get("status") or "pending")


def _run_status(tasks: list[dict[str, Any]]) -> str:
    statuses = {t["status"] for t in tasks}
    if statuses <= {"done", "skipped", "cached"}:
        return "succeeded"
    return "failed" if "failed" in statuses else "running"


def _inputs(resolver: ValueResolver, task: "Task", node: str) -> dict[str, Any]:
    """The node's inputs as its attempts saw them; an input that cannot be resolved from the
    store (an upstream output missing) is shown as its expression."""
    from ..core.expr import to_template

    _, index = _split(node)
    try:
        has_item, item = resolve_item(resolver, task, index)
        return {"values": resolve_task_inputs(resolver, task, has_item, item), "unresolved": None}
    except InputError as exc:
        return {"values": {b.name: to_template(b.value) for b in task.inputs}, "unresolved": str(exc)}


def _commits(store: RunStore, run_id: str, node: str) -> list[dict[str, Any]]:
    """Checkpoint commit records still in the store (retention keeps the newest `keep`), with
    the time the store gives their object (local mtime, S3 LastModified)."""
    checkpoint = store.checkpoint(run_id, node, 1, keep=1)  # read-only here: attempt and keep unused
    return [
        {"seq": c.seq, "attempt": c.attempt, "size": c.size, "kind": c.kind, "time": c.time}
        for c in checkpoint.commits()
    ]


def _attempts(attempts: list[AttemptRecord], commits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each attempt with its outcome and the checkpoints around it: the one it resumed from
    (the newest committed by any earlier attempt, as `cp.read()` returns) and those it wrote."""
    out = []
    newest: int | None = None
    for attempt in attempts:
        resumed_from = newest
        if attempt.checkpoint_seq is not None:
            newest = max(newest or 0, attempt.checkpoint_seq)
        wrote_last = attempt.checkpoint_seq if attempt.checkpoint_seq != resumed_from else None
        out.append(
            {
                "number": attempt.number,
                "outcome": attempt.outcome,
                "label": OUTCOME_LABELS.get(attempt.outcome, str(attempt.outcome)),
                "exit_code": attempt.exit_code,
                "started": attempt.started,
                "ended": attempt.ended,
                "duration_s": attempt.duration_s if attempt.duration_s is not None else _between(attempt.started, attempt.ended),
                "message": attempt.message,
                "resumed_from": resumed_from,
                "wrote": None if wrote_last is None else {"first": (resumed_from or 0) + 1, "last": wrote_last},
                "commits": [c for c in commits if c["attempt"] == attempt.number],
            }
        )
    return out


def _timeline(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Every attempt as a bar: seconds from the run's first start, and its length."""
    first = min((a["started"] for n in nodes for a in n["attempts"] if a["started"]), default=None)
    origin = None if first is None else _time(first)
    bars, end = [], 0.0
    for node in nodes:
        for a in node["attempts"]:
            if origin is None or not a["started"]:
                continue
            start = _time(a["started"]) - origin
            length = a["duration_s"] if a["duration_s"] is not None else 0.0
            end = max(end, start + length)
            marks = [
                {"seq": c["seq"], "size": c["size"], "at_s": round(_time(c["time"]) - origin, 3)}
                for c in a["commits"]
                if c["time"] and c["time"].endswith("Z")
            ]
            bars.append(
                {"node": node["id"], "attempt": a["number"], "outcome": a["outcome"], "label": a["label"],
                 "exit_code": a["exit_code"], "start_s": round(start, 3), "duration_s": round(length, 3),
                 "resumed_from": a["resumed_from"], "checkpoints": marks}
            )
    return {"origin": first, "span_s": round(end, 3), "bars": bars}


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _between(start: str | None, end: str | None) -> float | None:
    return None if not start or not end else round(_time(end) - _time(start), 3)


def _read_json(store: RunStore, path: str) -> Any:
    try:
        return json.loads(store.fs.cat_file(path))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


__all__ = ["OUTCOME_LABELS", "STATUS_RANK", "StoreError", "collect"]
