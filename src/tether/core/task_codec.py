"""One task's definition as a short argument: what `tether exec --task PAYLOAD` reads on a cluster.

A pod gets its task from its arguments instead of the whole workflow IR: each pod carries only
its own task, the run needs no record prepared before it starts, and the manifest is the whole
truth (a changed task is a changed manifest). The payload is

    "z2:" + base64url(zlib.compress(canonical JSON, 9, zdict=ZDICT))      (no padding)

which is deterministic (sorted keys, fixed separators, fixed level), compact, and safe in an
Argo template or a Batch command: its alphabet [A-Za-z0-9_-:] never spells `{{`. Since payload
version 2 the prefix is "z2:" and zlib starts from a preset dictionary (`ZDICT`) holding the JSON
every payload repeats (key names, null policies, common types): a plain Python task's payload
shrinks from 354 to 69 characters, the examples' from 621 to 359 on average (their inline scripts
do not shrink), and every template of a manifest carries one.
"z1:" payloads (no dictionary) are still read, so manifests written by an older tether run.

Besides the task (`ir.task_to_dict` form), it carries what exec needs to read the values the
engine passes (`--input`, `--value`) and the store: the declared type of every reference the
task's expressions read (`inputs.X`, `tasks.T.outputs.Y`, `item`), each read workflow input's
default, and which upstream tasks fan out (their outputs are lists over items). With
`with_bindings=False` the input bindings' expressions are left out, for a template shared by
tasks whose inputs all arrive through `--input`.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from .expr import Literal, refs, unparse_ref
from .ir import Binding, Task, Workflow, task_from_dict, task_to_dict
from .types import Type, list_of, parse_type

PREFIX = "z2:"
PAYLOAD_VERSION = 2
_READABLE = {"z1:": (1, b""), PREFIX: (PAYLOAD_VERSION, None)}  # prefix -> (version, dictionary; None: ZDICT)

ZDICT = (
    '"type":"list[str]"},"type":"list[int]"},"type":"float"},"type":"bool"},"type":"dict[str,'
    '{"value":"python3"},{"value":"-c"}]},'
    '"${{ tasks.","outputs.","${{ inputs.","${{ item }}"'
    '"container":{"args":[{"value":"","command":[{"value":"'
    '"interruptible":{"max_interruptions":3},"checkpoint":{"keep":'
    '"cache":{"version":"'
    '"backoff":{"delay_s":30,"factor":2.0,"max_delay_s":'
    '"env":{},"secrets":[{"env":"'
    '"resources":{"cpu_millicores":1000,"gpu":1,"memory_bytes":'
    '"kind":"container","kind":"python","'
    '{"fanned_out":[],"inputs":{},"shared":true,"task":{"after":[],"cache":null,"checkpoint":null,"env":{},"foreach":null,'
    '"image":"python:3.12","inputs":{"x":{"expr":"${{ tasks.a.outputs.y }}","type":"str"}},"interruptible":null,'
    '"kind":"python","name":"","outputs":{"result":"int"},"python":"steps:step",'
    '"resources":{"cpu_millicores":null,"gpu":0,"memory_bytes":null},"retry":{"backoff":null,"retries":0},'
    '"secrets":[],"timeout_s":null,"when":null},"types":{},"unbound":[],"v":2,"workflow":"'
).encode("utf-8")
"""zlib's preset dictionary for "z2:" payloads: text they share, the most common last (zlib
finds near matches cheaper). Part of the format: changing a byte of it is a new version."""


class PayloadError(ValueError):
    """Text that is not a task payload this tether reads."""


@dataclass(frozen=True)
class InputDefault:
    """A workflow input as a task sees it: its type and, when it has one, its default."""

    type: Type
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True)
class TaskPayload:
    task: Task
    workflow: str  # the workflow's name, recorded with the run
    inputs: Mapping[str, InputDefault] = field(default_factory=dict)  # workflow inputs it reads
    types: Mapping[str, Type] = field(default_factory=dict)  # "tasks.a.outputs.x" / "inputs.n" / "item"
    fanned_out: frozenset[str] = frozenset()  # upstream tasks with foreach: their outputs are lists
    unbound: frozenset[str] = frozenset()  # inputs whose expression was left out (engine-given only)
    shared: bool = False
    """Run by several nodes (an Argo template they share): the task's name is only a label, and
    exec takes each node's name from `--node` instead."""

    def type_of(self, ref_text: str) -> Type | None:
        return self.types.get(ref_text)


def _ref_root(ref: Any) -> str:
    """The reference without its path: `tasks.a.outputs.x`, `inputs.n`, `item`."""
    from .expr import Ref

    return unparse_ref(Ref(ref.root, ref.name, ref.task))


def _read_types(task: Task, workflow: Workflow) -> tuple[dict[str, InputDefault], dict[str, str], list[str]]:
    inputs: dict[str, InputDefault] = {}
    types: dict[str, str] = {}
    fanned: set[str] = set()
    for expr in task.expressions():
        for ref in refs(expr):
            key = _ref_root(ref)
            if ref.root == "inputs" and ref.name is not None:
                declared = workflow.input(ref.name)
                if declared is not None:
                    inputs[ref.name] = InputDefault(declared.type, declared.has_default, declared.default)
                    types[key] = str(declared.type)
            elif ref.root == "tasks" and ref.task is not None and ref.name is not None:
                upstream = workflow.task(ref.task)
                output = upstream.output(ref.name) if upstream is not None else None
                if upstream is not None and output is not None:
                    many = upstream.foreach is not None
                    types[key] = str(list_of(output.type) if many else output.type)
                    if many:
                        fanned.add(upstream.name)
    item = item_type(task, workflow)
    if item is not None:
        types["item"] = str(item)
    return inputs, types, sorted(fanned)


def item_type(task: Task, workflow: Workflow) -> Type | None:
    """The type of `item` in a foreach task: the element type of its list (None when unknown)."""
    if task.foreach is None:
        return None
    from .expr import Ref

    expr = task.foreach
    if isinstance(expr, Ref) and not expr.path:
        if expr.root == "inputs" and expr.name is not None:
            declared = workflow.input(expr.name)
            list_type = declared.type if declared is not None else None
        elif expr.root == "tasks" and expr.task is not None and expr.name is not None:
            upstream = workflow.task(expr.task)
            output = upstream.output(expr.name) if upstream is not None else None
            list_type = None if output is None else (list_of(output.type) if upstream and upstream.foreach else output.type)
        else:
            list_type = None
        if list_type is not None and list_type.kind == "list":
            return list_type.args[0]
    if isinstance(expr, Literal) and isinstance(expr.value, tuple) and expr.value:
        from .types import join_types, type_of_literal

        found = [type_of_literal(v) for v in expr.value]
        if all(t is not None for t in found):
            return join_types([t for t in found if t is not None])
    return None


def payload_dict(task: Task, workflow: Workflow, with_bindings: bool = True, shared: bool | None = None) -> dict[str, Any]:
    """The payload's JSON form (before compression), for tests and for `--dry-run` displays.

    `shared` (by default: without bindings) marks a payload that several nodes run, so exec takes
    each node's name from `--node`; the embedded name is then only a label."""
    inputs, types, fanned = _read_types(task, workflow)
    task_json = task_to_dict(task)
    task_json.pop("upstream", None)  # derived: task_from_dict recomputes it from the expressions
    unbound: list[str] = []
    if not with_bindings:
        for name, binding in task_json["inputs"].items():
            binding.pop("expr", None)
            binding.pop("value", None)
            unbound.append(name)
        bound_refs = {_ref_root(r) for b in task.inputs for r in refs(b.value)}
        others = {_ref_root(r) for e in _non_binding_exprs(task) for r in refs(e)}
        for key in bound_refs - others - {"item"}:
            types.pop(key, None)
            if key.startswith("inputs."):
                inputs.pop(key[len("inputs.") :], None)
    return {
        "v": PAYLOAD_VERSION,
        "workflow": workflow.name,
        "task": task_json,
        "inputs": {
            name: {"type": str(d.type), **({"default": d.default} if d.has_default else {})}
            for name, d in sorted(inputs.items())
        },
        "types": dict(sorted(types.items())),
        "fanned_out": fanned,
        "unbound": sorted(unbound),
        **({"shared": True} if (not with_bindings if shared is None else shared) else {}),
    }


def _non_binding_exprs(task: Task) -> list[Any]:
    exprs = [e for e in (task.when, task.foreach) if e is not None]
    if task.container is not None:
        exprs += [*task.container.command, *task.container.args]
    return exprs


def encode_task(task: Task, workflow: Workflow, with_bindings: bool = True, shared: bool | None = None) -> str:
    """The `--task` argument for `task` of `workflow` (see the module docstring)."""
    text = json.dumps(payload_dict(task, workflow, with_bindings, shared), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    packed = packer.compress(text.encode("utf-8")) + packer.flush()
    return PREFIX + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_task(text: str) -> TaskPayload:
    """The inverse of `encode_task`. Raises PayloadError with what is wrong."""
    text = text.strip()
    readable = _READABLE.get(text[: len(PREFIX)])
    if readable is None:
        raise PayloadError(f"a task payload starts with {PREFIX!r} (got {text[:12]!r}...)")
    version, dictionary = readable
    body = text[len(PREFIX) :]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        unpacker = zlib.decompressobj(zlib.MAX_WBITS, ZDICT if dictionary is None else dictionary)
        raw = unpacker.decompress(packed) + unpacker.flush()
        if not unpacker.eof:
            raise ValueError("it is cut short")
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, zlib.error) as exc:
        raise PayloadError(f"the task payload is damaged: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != version:
        found = data.get("v") if isinstance(data, dict) else None
        raise PayloadError(f"task payload version {found!r} is not supported (this tether reads 1 and {PAYLOAD_VERSION})")
    try:
        return _from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"the task payload is malformed: {type(exc).__name__}: {exc}") from None


def _from_dict(data: Mapping[str, Any]) -> TaskPayload:
    task_json = dict(data["task"])
    unbound = frozenset(data["unbound"])
    if unbound:
        # Left out on purpose: a placeholder keeps the Task well formed; exec requires --input.
        task_json["inputs"] = {
            name: ({**b, "value": None} if name in unbound else b) for name, b in task_json["inputs"].items()
        }
    task = task_from_dict(task_json)
    if unbound:
        task = _with_placeholders(task, unbound)
    return TaskPayload(
        task=task,
        workflow=data["workflow"],
        inputs={
            name: InputDefault(parse_type(d["type"]), "default" in d, d.get("default"))
            for name, d in data["inputs"].items()
        },
        types={key: parse_type(t) for key, t in data["types"].items()},
        fanned_out=frozenset(data["fanned_out"]),
        unbound=unbound,
        shared=bool(data.get("shared", False)),
    )


def _with_placeholders(task: Task, unbound: frozenset[str]) -> Task:
    from dataclasses import replace

    inputs = tuple(Binding(b.name, b.type, Literal(None)) if b.name in unbound else b for b in task.inputs)
    return replace(task, inputs=inputs)


__all__ = ["InputDefault", "PayloadError", "TaskPayload", "decode_task", "encode_task", "item_type", "payload_dict"]
