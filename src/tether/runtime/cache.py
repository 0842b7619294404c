"""The local runtime's task cache: reuse an earlier run's outputs for the same task and inputs.

A node of a task with `cache` is looked up before its first attempt, under the keys of
tether.core.cache_key (the task's definition, the node's resolved input values). A hit settles
the node without an attempt: its outputs are the entry's. An entry is reused only when its
outputs still fit the task's declared types and every `file` or `dir` they name still exists;
otherwise the node runs, and its new result replaces the stale entry. Entries are written when a
node succeeds, with the store's conditional create, so of two runs finishing the same work the
first one's entry is kept and every later run agrees on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ..core.cache_key import definition_key, inputs_key
from ..core.graph import parse_node_id
from .inputs import InputError, ValueResolver, resolve_item, resolve_task_inputs
from .store import StoreError, utc_now

if TYPE_CHECKING:
    from ..core.ir import Task, Workflow
    from ..core.types import Type
    from .store import RunStore


@dataclass(frozen=True)
class CacheKeys:
    definition: str
    inputs: str


@dataclass(frozen=True)
class CacheHit:
    """A usable entry: the outputs, and the run and node that computed them."""

    outputs: dict[str, Any]
    run_id: str
    node_id: str

    def source(self) -> dict[str, str]:
        return {"run_id": self.run_id, "node_id": self.node_id}


class RunCache:
    """Cache look-ups and records for one run (its values resolve as its attempts' would)."""

    def __init__(self, store: "RunStore", run_id: str, workflow: "Workflow", params: Mapping[str, Any]):
        self.store = store
        self.run_id = run_id
        self._resolver = ValueResolver(store, run_id, workflow, params)
        self._definitions: dict[str, str] = {}

    def keys(self, task: "Task", node_id: str) -> CacheKeys | None:
        """The node's keys; None when the task has no `cache`, or its inputs do not resolve here
        (the attempt then runs and says why, as it would without a cache)."""
        if task.cache is None:
            return None
        try:
            _, index = parse_node_id(node_id)
            has_item, item = resolve_item(self._resolver, task, index)
            values = resolve_task_inputs(self._resolver, task, has_item, item)
            command = None
            if task.container is not None:
                from .container import command_line

                command = command_line(task, self._resolver, has_item, item)
            inputs = inputs_key(values, command)
        except (InputError, ValueError):
            return None
        definition = self._definitions.get(task.name)
        if definition is None:
            definition = self._definitions[task.name] = definition_key(task)
        return CacheKeys(definition, inputs)

    def lookup(self, task: "Task", keys: CacheKeys) -> CacheHit | None:
        """The entry for `keys` if it can be reused (see the module docstring), else None."""
        entry = self.store.read_cache_entry(keys.definition, keys.inputs)
        if entry is None or usable_outputs(task, entry.get("outputs")) is not None:
            return None
        return CacheHit(dict(entry["outputs"]), str(entry.get("run_id", "")), str(entry.get("node_id", "")))

    def remember(self, task: "Task", keys: CacheKeys, node_id: str, outputs: Mapping[str, Any]) -> str | None:
        """Record a node's result; returns why it could not be (a store failure), else None.
        An existing usable entry is kept (first writer wins); an unusable one is replaced."""
        entry = {"outputs": dict(outputs), "run_id": self.run_id, "node_id": node_id, "created": utc_now()}
        try:
            if self.store.write_cache_entry(keys.definition, keys.inputs, entry, replace=False):
                return None
            existing = self.store.read_cache_entry(keys.definition, keys.inputs)
            if existing is None or usable_outputs(task, existing.get("outputs")) is not None:
                self.store.write_cache_entry(keys.definition, keys.inputs, entry, replace=True)
        except StoreError as exc:
            return str(exc)
        return None


def usable_outputs(task: "Task", outputs: Any) -> str | None:
    """Why cached `outputs` cannot stand for the task's now, or None when they can."""
    from ..core.types import accepts_value

    if not isinstance(outputs, dict):
        return "the entry holds no outputs"
    for output in task.outputs:
        if output.name not in outputs:
            return f"the entry has no output {output.name!r}"
        value = outputs[output.name]
        if not accepts_value(output.type, value):
            return f"output {output.name!r} is not a {output.type}"
        for kind, path in _paths(output.type, value):
            if not _exists(kind, path):
                return f"output {output.name!r}: {kind} {path} no longer exists"
    return None


def _paths(type_: "Type", value: Any) -> list[tuple[str, str]]:
    """Every (kind, path) of a `file` or `dir` inside `value` of type `type_`."""
    found: list[tuple[str, str]] = []
    stack: list[tuple["Type", Any]] = [(type_, value)]
    while stack:
        current, item = stack.pop()
        if item is None:
            continue
        if current.kind in ("file", "dir") and isinstance(item, str):
            found.append((current.kind, item))
        elif current.kind == "list" and isinstance(item, list):
            stack.extend((current.args[0], v) for v in item)
        elif current.kind == "dict" and isinstance(item, dict):
            stack.extend((current.args[1], v) for v in item.values())
    return found


def _exists(kind: str, path: str) -> bool:
    """A local path (relative to where `tether run` runs, as the task's was), or an fsspec URI."""
    if "://" not in path:
        return os.path.isdir(path) if kind == "dir" else os.path.isfile(path)
    try:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(path)
        return bool(fs.isdir(root) if kind == "dir" else fs.isfile(root))
    except Exception:  # an unknown protocol, no credentials, no network: not known to exist
        return False


__all__ = ["CacheHit", "CacheKeys", "RunCache", "usable_outputs"]
