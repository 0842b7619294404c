"""The graph a picture draws, built from the IR: one node per task, edges for data and `after:`.

A `foreach` task stays one node with an item count (known at compile time, from the run, or
unknown), so a fan-out of 1,000 items is one box, not 1,000. A `when` is written on its node.
Policies become short badges. Secrets appear by name only: the IR holds no secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..core.expr import Literal, plain_value, refs, unparse
from ..core.graph import foreach_known
from ..core.ir import Task, Workflow

BADGE_KEYS = ("retries", "interruptible", "checkpoint", "cache", "timeout")


@dataclass(frozen=True)
class Badge:
    key: str  # one of BADGE_KEYS: styles and tests key on it
    text: str


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # "python" or "container"
    target: str  # module:function, or the container's image and command
    badges: tuple[Badge, ...] = ()
    foreach: str | None = None  # the expression, as written
    count: int | None = None  # items of a foreach, when known
    when: str | None = None
    secrets: tuple[str, ...] = ()  # "name/key -> ENV", never a value

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "badges": [{"key": b.key, "text": b.text} for b in self.badges],
            "foreach": self.foreach,
            "count": self.count,
            "when": self.when,
            "secrets": list(self.secrets),
        }


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "data": the target reads the source's outputs; "after": order only
    label: str = ""  # the outputs read, comma-separated

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "kind": self.kind, "label": self.label}


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    description: str = ""

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }


def graph_of(workflow: Workflow, counts: Mapping[str, int] | None = None) -> Graph:
    """The graph of `workflow`; `counts` gives foreach item counts a run decided."""
    counts = counts or {}
    nodes = tuple(_node(task, workflow, counts.get(task.name)) for task in workflow.tasks)
    edges: list[Edge] = []
    for task in workflow.tasks:
        read: dict[str, list[str]] = {}
        for expr in task.expressions():
            for ref in refs(expr):
                if ref.root == "tasks" and ref.task is not None and ref.name is not None:
                    names = read.setdefault(ref.task, [])
                    if ref.name not in names:
                        names.append(ref.name)
        for source in sorted(read):
            edges.append(Edge(source, task.name, "data", ", ".join(read[source])))
        for source in task.after:
            if source not in read:
                edges.append(Edge(source, task.name, "after"))
    return Graph(workflow.name, nodes, tuple(edges), workflow.description)


def _node(task: Task, workflow: Workflow, count: int | None) -> Node:
    foreach = None
    if task.foreach is not None:
        foreach = unparse(task.foreach)
        if count is None:
            known, items = foreach_known(task, workflow)
            count = len(items) if known and items is not None else None
    return Node(
        id=task.name,
        kind=task.kind,
        target=_target(task),
        badges=badges(task),
        foreach=foreach,
        count=count,
        when=None if task.when is None else unparse(task.when),
        secrets=tuple(f"{s.name}/{s.key} -> {s.env}" for s in task.secrets),
    )


def _target(task: Task) -> str:
    if task.container is None:
        return task.python or ""
    words = [plain_value(p.value) if isinstance(p, Literal) else unparse(p) for p in task.container.command]
    return " ".join(str(w) for w in [task.image or "", *words[:1]] if w)


def badges(task: Task) -> tuple[Badge, ...]:
    """Short labels for a task's policies, in BADGE_KEYS order; absent policies get none."""
    out: list[Badge] = []
    if task.retry.retries:
        out.append(Badge("retries", f"retries {task.retry.retries}"))
    if task.interruptible is not None:
        out.append(Badge("interruptible", f"spot ≤{task.interruptible.max_interruptions}"))
    if task.checkpoint is not None:
        out.append(Badge("checkpoint", f"checkpoint keep {task.checkpoint.keep}"))
    if task.cache is not None:
        out.append(Badge("cache", f"cache v{task.cache.version}" if task.cache.version else "cache"))
    if task.timeout_s is not None:
        out.append(Badge("timeout", f"timeout {duration(task.timeout_s)}"))
    return tuple(out)


def duration(seconds: float) -> str:
    """6h, 1h30m, 10m, 45s, 1.5s: the way a spec writes durations."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def graph_from_json(data: Mapping[str, Any]) -> Graph:
    """The inverse of `Graph.to_json` (a report's data carries its graph as JSON)."""
    nodes = tuple(
        Node(n["id"], n["kind"], n["target"], tuple(Badge(b["key"], b["text"]) for b in n["badges"]),
             n["foreach"], n["count"], n["when"], tuple(n["secrets"]))
        for n in data["nodes"]
    )
    edges = tuple(Edge(e["source"], e["target"], e["kind"], e["label"]) for e in data["edges"])
    return Graph(data["name"], nodes, edges, data.get("description", ""))
