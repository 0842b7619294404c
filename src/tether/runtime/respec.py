"""`tether run --resume RUN --spec SPEC`: a run goes on with a fixed spec or fixed code.

A node that finished keeps its result when its task's definition (tether.core.cache_key's
definition key: what runs, its interface, image, `cache.version`) and its resolved input values
are what they were when it ran; otherwise it runs again, and so does every node whose inputs
change because of that (its upstream's new outputs give it new input values). Nodes of new
tasks run; tasks the new spec removed are left as they are. Each attempt records its keys
before it starts (RunStore.record_node_inputs), so the comparison reads what the finished
attempt really computed from, whatever happened to the run since.

What cannot go on is refused before anything runs (`incompatibilities`): another workflow, or
inputs the run was started with that the new spec cannot take, since a resumed run keeps its
inputs. A task's code is not looked at: a finished task whose function changed is kept unless
its `cache.version` (part of the definition) changes too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..core.cache_key import definition_key, inputs_key
from ..core.graph import parse_node_id
from .inputs import InputError, ValueResolver, resolve_item, resolve_task_inputs

if TYPE_CHECKING:
    from ..core.ir import Task, Workflow
    from .store import RunStore


def incompatibilities(old: "Workflow", new: "Workflow", params: Mapping[str, Any]) -> list[str]:
    """Why the run started with `old` and `params` cannot go on with `new` ([] when it can)."""
    from ..core.types import accepts_value

    if old.name != new.name:
        return [f"the spec defines workflow {new.name!r}, but the run ran {old.name!r}"]
    problems = []
    for declared in new.inputs:
        if declared.name in params:
            value = params[declared.name]
            if not accepts_value(declared.type, value):
                was = old.input(declared.name)
                before = f" (it was {was.type})" if was is not None and str(was.type) != str(declared.type) else ""
                problems.append(
                    f"input {declared.name!r} is now {declared.type}{before}, but the run was started with {value!r}"
                )
        elif not declared.has_default and not declared.type.optional:
            problems.append(f"input {declared.name!r} is new and has no default, and a resumed run has no value for it")
    return problems


def changes(old: "Workflow", new: "Workflow") -> list[str]:
    """What the new spec changes, task by task, for a person ("train: definition changed")."""
    before = {t.name: t for t in old.tasks}
    after = {t.name: t for t in new.tasks}
    lines = []
    for name, task in after.items():
        if name not in before:
            same = [o for o, t in before.items() if o not in after and definition_key(t) == definition_key(task)]
            renamed = f" (renamed from {same[0]}? a renamed task runs again)" if same else ""
            lines.append(f"{name}: new task{renamed}")
        elif definition_key(before[name]) != definition_key(task):
            lines.append(f"{name}: definition changed")
    lines.extend(f"{name}: removed (its results stay in the store)" for name in before if name not in after)
    return lines


class NodeKeys:
    """The keys of a node of this run: its task's definition and its resolved inputs."""

    def __init__(self, store: "RunStore", run_id: str, workflow: "Workflow", params: Mapping[str, Any]):
        self._definitions: dict[str, str] = {}
        # Upstream outputs are read once: a node's inputs are resolved only once its upstream
        # nodes are final (a superseded node is removed before it reruns, never after it is read).
        self._resolver = ValueResolver(store, run_id, workflow, params)

    def definition(self, task: "Task") -> str:
        key = self._definitions.get(task.name)
        if key is None:
            key = self._definitions[task.name] = definition_key(task)
        return key

    def keys(self, task: "Task", node_id: str) -> dict[str, str] | None:
        """{"definition_key", "inputs_key"}, or None when the inputs do not resolve (yet): the
        attempt then fails and says why, and nothing can be compared against it."""
        resolver = self._resolver
        try:
            _, index = parse_node_id(node_id)
            has_item, item = resolve_item(resolver, task, index)
            values = resolve_task_inputs(resolver, task, has_item, item)
            command = None
            if task.container is not None:
                from .container import command_line

                command = command_line(task, resolver, has_item, item)
            key = inputs_key(values, command)
        except (InputError, ValueError):
            return None
        return {"definition_key": self.definition(task), "inputs_key": key}

    def changed(self, task: "Task", node_id: str, recorded: Mapping[str, Any] | None) -> str | None:
        """Why a finished node must run again under this workflow, or None when it is kept."""
        if recorded is None:
            return "its inputs were not recorded when it ran"
        if recorded.get("definition_key") != self.definition(task):
            return "its definition changed"
        now = self.keys(task, node_id)
        if now is None or recorded.get("inputs_key") != now["inputs_key"]:
            return "its inputs changed"
        return None


__all__ = ["NodeKeys", "changes", "incompatibilities"]
