"""The IR: a typed DAG of tasks with their policies, as frozen dataclasses.

Both front ends (YAML and Python) build these values; every backend reads only these values.
Units are canonical (seconds, millicores, bytes), counts are unambiguous (`RetryPolicy.retries`
is the number of user retries after the first attempt, never "attempts"), and source spans
are kept out of equality so a YAML spec and its Python twin compile to equal IR.

`to_json` gives a stable, versioned JSON form: same IR, same bytes, on any machine.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .diagnostics import Span
from .expr import Expr, Literal, Ref, parse_template, plain_value, refs, to_template
from .types import Type, parse_type

IR_VERSION = 1

DEFAULT_MAX_INTERRUPTIONS = 3
"""Interruptions (spot reclaims, evictions) retried when `interruptible: true` gives no budget."""

DEFAULT_CHECKPOINT_KEEP = 3
"""Committed checkpoints kept per node when `checkpoint: true` gives no `keep`."""


def _spans() -> dict[str, Span]:
    return {}


@dataclass(frozen=True)
class Backoff:
    """Delay before retry k (k = 1, 2, ...): min(delay_s * factor**(k-1), max_delay_s)."""

    delay_s: int
    factor: float = 2.0
    max_delay_s: int | None = None

    def delay_before(self, retry_number: int) -> float:
        delay = self.delay_s * self.factor ** max(retry_number - 1, 0)
        return min(delay, self.max_delay_s) if self.max_delay_s is not None else delay


@dataclass(frozen=True)
class RetryPolicy:
    """`retries`: how many times a recoverable failure (exit 75) is retried. 0 = never."""

    retries: int = 0
    backoff: Backoff | None = None


@dataclass(frozen=True)
class InterruptPolicy:
    """The task may run on spot / preemptible capacity; interruptions have their own budget."""

    max_interruptions: int = DEFAULT_MAX_INTERRUPTIONS


@dataclass(frozen=True)
class CheckpointPolicy:
    """The task gets a checkpoint; the newest `keep` committed checkpoints are retained."""

    keep: int = DEFAULT_CHECKPOINT_KEEP


@dataclass(frozen=True)
class Resources:
    """Requests in canonical units. None = not requested (the platform default applies)."""

    cpu_millicores: int | None = None
    memory_bytes: int | None = None
    gpu: int = 0


@dataclass(frozen=True)
class CachePolicy:
    """Outputs are reused when the task's inputs and `version` match an earlier run's."""

    version: str = ""


@dataclass(frozen=True)
class Secret:
    """A secret by reference: its store name and key, exposed to the task as `env`."""

    name: str
    key: str
    env: str


@dataclass(frozen=True)
class Container:
    """A container task's command; its image is the task's (`Task.image`, resolved once)."""

    command: tuple[Expr, ...] = ()
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Binding:
    """A task input: its type and the expression that gives its value (a Literal for constants).

    `type` is None only between a front end and validation, when the spec declared no type:
    validation infers it from the value, so a validated Workflow always has it.
    """

    name: str
    type: Type | None
    value: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Output:
    name: str
    type: Type
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Task:
    name: str
    python: str | None = None  # "module:function"
    container: Container | None = None
    image: str | None = None
    """The one image the task runs in: the container's, else the task's, else the spec's
    defaults (resolved by the front end); a compile profile's default image fills the rest."""
    inputs: tuple[Binding, ...] = ()
    outputs: tuple[Output, ...] = ()
    retry: RetryPolicy = RetryPolicy()
    interruptible: InterruptPolicy | None = None
    checkpoint: CheckpointPolicy | None = None
    resources: Resources = Resources()
    timeout_s: int | None = None
    after: tuple[str, ...] = ()
    when: Expr | None = None
    foreach: Expr | None = None
    cache: CachePolicy | None = None
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[Secret, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    spans: Mapping[str, Span] = field(default_factory=_spans, compare=False, repr=False, hash=False)
    """Spans of individual keys ('retries', 'inputs.n', 'after[0]', ...) for diagnostics."""

    @property
    def kind(self) -> str:
        return "container" if self.container is not None else "python"

    def input(self, name: str) -> Binding | None:
        return next((b for b in self.inputs if b.name == name), None)

    def output(self, name: str) -> Output | None:
        return next((o for o in self.outputs if o.name == name), None)

    def expressions(self) -> Iterable[Expr]:
        for binding in self.inputs:
            yield binding.value
        if self.when is not None:
            yield self.when
        if self.foreach is not None:
            yield self.foreach
        if self.container is not None:
            yield from self.container.command
            yield from self.container.args

    def upstream(self) -> tuple[str, ...]:
        """Tasks this one depends on: `after` plus every task referenced by its expressions."""
        names = dict.fromkeys(self.after)
        for expr in self.expressions():
            for ref in refs(expr):
                if ref.root == "tasks" and ref.task is not None:
                    names.setdefault(ref.task)
        return tuple(names)

    def span_of(self, key: str) -> Span | None:
        return self.spans.get(key, self.span)


@dataclass(frozen=True)
class WorkflowInput:
    name: str
    type: Type
    has_default: bool = False
    default: Any = None
    description: str = ""
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WorkflowOutput:
    name: str
    value: Expr
    type: Type | None = None  # filled in by validation
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Workflow:
    name: str
    tasks: tuple[Task, ...] = ()
    inputs: tuple[WorkflowInput, ...] = ()
    outputs: tuple[WorkflowOutput, ...] = ()
    description: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    schedule: str | None = None
    span: Span | None = field(default=None, compare=False, repr=False)
    source: str | None = field(default=None, compare=False, repr=False)
    """The text the workflow was compiled from, for rendering diagnostics found later."""

    def task(self, name: str) -> Task | None:
        return next((t for t in self.tasks if t.name == name), None)

    def input(self, name: str) -> WorkflowInput | None:
        return next((i for i in self.inputs if i.name == name), None)


def topological_order(tasks: Iterable[Task]) -> list[Task]:
    """Tasks in dependency order, ties broken by name: one order for any front end.

    Assumes an acyclic graph whose upstream names all exist (validation checks both);
    anything left over (a cycle) is appended by name so the function never loops.
    Kahn's algorithm with a heap: O(E + V log V), each task's `upstream()` computed once.
    """
    by_name = {t.name: t for t in tasks}
    waiting: dict[str, int] = {}  # task -> upstream tasks not yet placed
    children: dict[str, list[str]] = {name: [] for name in by_name}
    for name, task in by_name.items():
        ups = [u for u in task.upstream() if u in by_name and u != name]  # upstream() has no repeats
        waiting[name] = len(ups)
        for up in ups:
            children[up].append(name)
    ready = [name for name, count in waiting.items() if not count]
    heapq.heapify(ready)
    order: list[Task] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(by_name[name])
        for child in children[name]:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(order) < len(by_name):
        placed = {t.name for t in order}
        order.extend(by_name[n] for n in sorted(by_name) if n not in placed)
    return order


def canonical(workflow: Workflow) -> Workflow:
    """The canonical form every front end returns: tasks in topological order (by name among
    equals), everything else that is keyed by name sorted by name, so JSON round-trips exactly.

    A task whose keyed fields are already in order is kept as it is (no copy): on big specs
    most are, and copying every frozen task was most of this function's time.
    """
    from dataclasses import replace

    tasks = tuple(_canonical_task(t) for t in topological_order(workflow.tasks))
    return replace(
        workflow,
        tasks=tasks,
        inputs=_sorted(workflow.inputs, _by_name),
        outputs=_sorted(workflow.outputs, _by_name),
        labels=_sorted(workflow.labels, None),
    )


def _canonical_task(task: Task) -> Task:
    inputs = _sorted(task.inputs, _by_name)
    outputs = _sorted(task.outputs, _by_name)
    env = _sorted(task.env, None)
    secrets = _sorted(task.secrets, _secret_order)
    if inputs is task.inputs and outputs is task.outputs and env is task.env and secrets is task.secrets:
        return task
    from dataclasses import replace

    return replace(task, inputs=inputs, outputs=outputs, env=env, secrets=secrets)


def _by_name(item: Any) -> str:
    return item.name  # type: ignore[no-any-return]


def _secret_order(secret: Secret) -> tuple[str, str, str]:
    return (secret.env, secret.name, secret.key)


def _sorted(items: tuple[Any, ...], key: Any) -> tuple[Any, ...]:
    """`tuple(sorted(items, key=key))`, but `items` itself when it is already in that order."""
    if len(items) < 2:
        return items
    keys = [key(item) for item in items] if key is not None else list(items)
    if all(a <= b for a, b in zip(keys, keys[1:])):
        return items
    return tuple(sorted(items, key=key))


# ---------------------------------------------------------------------------- JSON


def _expr_json(expr: Expr) -> Any:
    if isinstance(expr, Literal):
        return {"value": plain_value(expr.value)}
    return {"expr": to_template(expr)}


def _expr_from_json(data: Mapping[str, Any]) -> Expr:
    if "value" in data:
        return Literal(_freeze(data["value"]))
    return parse_template(data["expr"])


def _freeze(value: Any) -> Any:
    """JSON lists become tuples so Literals stay hashable."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def task_to_dict(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {"name": task.name, "kind": task.kind}
    if task.python is not None:
        out["python"] = task.python
    if task.container is not None:
        out["container"] = {
            "command": [_expr_json(e) for e in task.container.command],
            "args": [_expr_json(e) for e in task.container.args],
        }
    out["image"] = task.image
    out["inputs"] = {b.name: {"type": str(b.type), **_expr_json(b.value)} for b in task.inputs}
    out["outputs"] = {o.name: str(o.type) for o in task.outputs}
    backoff = task.retry.backoff
    out["retry"] = {
        "retries": task.retry.retries,
        "backoff": None
        if backoff is None
        else {"delay_s": backoff.delay_s, "factor": backoff.factor, "max_delay_s": backoff.max_delay_s},
    }
    out["interruptible"] = (
        None if task.interruptible is None else {"max_interruptions": task.interruptible.max_interruptions}
    )
    out["checkpoint"] = None if task.checkpoint is None else {"keep": task.checkpoint.keep}
    out["resources"] = {
        "cpu_millicores": task.resources.cpu_millicores,
        "memory_bytes": task.resources.memory_bytes,
        "gpu": task.resources.gpu,
    }
    out["timeout_s"] = task.timeout_s
    out["after"] = list(task.after)
    out["upstream"] = sorted(task.upstream())
    out["when"] = None if task.when is None else to_template(task.when)
    out["foreach"] = None if task.foreach is None else to_template(task.foreach)
    out["cache"] = None if task.cache is None else {"version": task.cache.version}
    out["env"] = dict(task.env)
    out["secrets"] = [{"name": s.name, "key": s.key, "env": s.env} for s in task.secrets]
    return out


def to_dict(workflow: Workflow) -> dict[str, Any]:
    return {
        "ir_version": IR_VERSION,
        "workflow": {
            "name": workflow.name,
            "description": workflow.description,
            "labels": dict(workflow.labels),
            "schedule": workflow.schedule,
            "inputs": {
                i.name: {
                    "type": str(i.type),
                    **({"default": i.default} if i.has_default else {}),
                    "description": i.description,
                }
                for i in workflow.inputs
            },
            "tasks": [task_to_dict(t) for t in workflow.tasks],
            "outputs": {
                o.name: {"type": None if o.type is None else str(o.type), **_expr_json(o.value)}
                for o in workflow.outputs
            },
        },
    }


def to_json(workflow: Workflow) -> str:
    """Stable JSON: sorted keys, two-space indent, UTF-8 text, trailing newline."""
    return json.dumps(to_dict(workflow), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class IRVersionError(ValueError):
    pass


def task_from_dict(t: Mapping[str, Any]) -> Task:
    """One task from its JSON form (`task_to_dict`), spans aside."""
    container = None
    if "container" in t:
        c = t["container"]
        container = Container(
            tuple(_expr_from_json(e) for e in c["command"]),
            tuple(_expr_from_json(e) for e in c["args"]),
        )
    b = t["retry"]["backoff"]
    return Task(
        name=t["name"],
        python=t.get("python"),
        container=container,
        image=t["image"],
        inputs=tuple(
            Binding(name, parse_type(v["type"]), _expr_from_json(v)) for name, v in t["inputs"].items()
        ),
        outputs=tuple(Output(name, parse_type(ty)) for name, ty in t["outputs"].items()),
        retry=RetryPolicy(
            t["retry"]["retries"],
            None if b is None else Backoff(b["delay_s"], b["factor"], b["max_delay_s"]),
        ),
        interruptible=None
        if t["interruptible"] is None
        else InterruptPolicy(t["interruptible"]["max_interruptions"]),
        checkpoint=None if t["checkpoint"] is None else CheckpointPolicy(t["checkpoint"]["keep"]),
        resources=Resources(
            t["resources"]["cpu_millicores"], t["resources"]["memory_bytes"], t["resources"]["gpu"]
        ),
        timeout_s=t["timeout_s"],
        after=tuple(t["after"]),
        when=None if t["when"] is None else parse_template(t["when"]),
        foreach=None if t["foreach"] is None else parse_template(t["foreach"]),
        cache=None if t["cache"] is None else CachePolicy(t["cache"]["version"]),
        env=tuple(sorted(t["env"].items())),
        secrets=tuple(Secret(s["name"], s["key"], s["env"]) for s in t["secrets"]),
    )


def from_json(text: str) -> Workflow:
    """Read the JSON form back (the inverse of `to_json`, spans aside)."""
    data = json.loads(text)
    version = data.get("ir_version")
    if version != IR_VERSION:
        raise IRVersionError(f"IR version {version!r} is not supported (this tether reads {IR_VERSION})")
    wf = data["workflow"]
    tasks = [task_from_dict(t) for t in wf["tasks"]]
    return Workflow(
        name=wf["name"],
        description=wf["description"],
        labels=tuple(sorted(wf["labels"].items())),
        schedule=wf["schedule"],
        inputs=tuple(
            WorkflowInput(name, parse_type(v["type"]), "default" in v, v.get("default"), v["description"])
            for name, v in wf["inputs"].items()
        ),
        tasks=tuple(tasks),
        outputs=tuple(
            WorkflowOutput(name, _expr_from_json(v), None if v["type"] is None else parse_type(v["type"]))
            for name, v in wf["outputs"].items()
        ),
    )


__all__ = [
    "Backoff",
    "Binding",
    "CachePolicy",
    "CheckpointPolicy",
    "Container",
    "IR_VERSION",
    "InterruptPolicy",
    "Output",
    "Ref",
    "Resources",
    "RetryPolicy",
    "Secret",
    "Task",
    "Workflow",
    "WorkflowInput",
    "WorkflowOutput",
    "canonical",
    "from_json",
    "task_from_dict",
    "task_to_dict",
    "to_json",
    "topological_order",
]
