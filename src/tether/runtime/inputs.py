"""The values a task attempt sees: workflow parameters, upstream outputs, foreach items.

Every value is JSON (files and directories are path strings). A reference resolves as:

- `inputs.X`            the run's parameter X, else the workflow input's default;
- `tasks.T.outputs.Y`   T's output Y from the run store; for a foreach task T, the list of its
                        items' Y in item order (the items are T's foreach list, evaluated again
                        from the same stored values, so every reader agrees on the count);
- `item`                the i-th element of this task's foreach list, for node `TASK[i]`.

Values are checked against the declared types here, so a wrong parameter fails the attempt
with a message naming the input instead of surfacing as a TypeError deep in user code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..core.expr import EvaluationError, Expr, Ref, evaluate, to_template
from ..core.graph import parse_node_id

if TYPE_CHECKING:
    from ..core.ir import Task, Workflow
    from ..core.types import Type
    from .store import RunStore

class InputError(Exception):
    """An input could not be resolved or has the wrong type: the attempt fails as fatal."""


def coerce(value: Any, target: "Type") -> Any:
    """A JSON value as the declared type wants it in Python: an int where a float is declared
    becomes a float (JSON cannot tell 1 from 1.0); lists and dicts are converted element-wise."""
    if value is None:
        return None
    if target.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if target.kind == "list" and isinstance(value, list):
        return [coerce(v, target.args[0]) for v in value]
    if target.kind == "dict" and isinstance(value, dict):
        return {k: coerce(v, target.args[1]) for k, v in value.items()}
    return value


def check_value(value: Any, target: "Type", what: str) -> Any:
    """`value` coerced to `target`, or InputError saying what was expected and what came."""
    from ..core.types import accepts_value

    if not accepts_value(target, value):
        raise InputError(f"{what}: expected {target}, got {_show(value)}")
    return coerce(value, target)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ValueResolver:
    """Resolves references for one run; upstream outputs are read from the store once each."""

    def __init__(self, store: "RunStore", run_id: str, workflow: "Workflow", params: Mapping[str, Any]):
        self._store = store
        self._run_id = run_id
        self._workflow = workflow
        self._params = params
        self._outputs: dict[str, dict[str, Any]] = {}

    def workflow_input(self, name: str) -> Any:
        declared = self._workflow.input(name)
        if declared is None:
            raise InputError(f"the workflow has no input {name!r}")
        if name in self._params:
            return check_value(self._params[name], declared.type, f"workflow input {name!r}")
        if declared.has_default:
            return coerce(declared.default, declared.type)
        if declared.type.optional:
            return None
        raise InputError(f"workflow input {name!r} has no value and no default (pass it with -p {name}=VALUE)")

    def foreach_items(self, task: "Task") -> list[Any]:
        assert task.foreach is not None
        items = self.evaluate(task.foreach, None, f"the foreach list of {task.name}")
        if not isinstance(items, list):
            raise InputError(f"the foreach list of {task.name} is not a list: {_show(items)}")
        return items

    def task_outputs(self, task_name: str) -> dict[str, Any]:
        """A task's outputs; for a foreach task, each output is the list over its items."""
        if task_name in self._outputs:
            return self._outputs[task_name]
        task = self._workflow.task(task_name)
        if task is None:
            raise InputError(f"the workflow has no task {task_name!r}")
        if task.foreach is None:
            outputs = self._read(task_name)
        else:
            items = [self._read(f"{task_name}[{i}]") for i in range(len(self.foreach_items(task)))]
            outputs = {o.name: [item.get(o.name) for item in items] for o in task.outputs}
        self._outputs[task_name] = outputs
        return outputs

    def _read(self, node_id: str) -> dict[str, Any]:
        outputs = self._store.read_outputs(self._run_id, node_id)
        if outputs is None:
            raise InputError(f"upstream node {node_id} has no outputs in this run (it was skipped or has not succeeded)")
        return outputs

    def item_at(self, task: "Task", index: int) -> Any:
        """Item `index` of a foreach task's list (InputError when there is no such item)."""
        items = self.foreach_items(task)
        if index >= len(items):
            raise InputError(f"{task.name}[{index}] does not exist: the foreach list has {len(items)} items")
        return items[index]

    def resolver(self, item: Any, has_item: bool) -> Callable[[Ref], object]:
        def resolve(ref: Ref) -> object:
            return self.value(ref, item, has_item)

        return resolve

    def value(self, ref: Ref, item: Any, has_item: bool) -> object:
        """The value of a reference's root (its path is applied by the evaluator)."""
        if ref.root == "inputs":
            assert ref.name is not None
            return self.workflow_input(ref.name)
        if ref.root == "tasks":
            assert ref.task is not None and ref.name is not None
            outputs = self.task_outputs(ref.task)
            if ref.name not in outputs:
                raise InputError(f"task {ref.task} has no output {ref.name!r}")
            return outputs[ref.name]
        if ref.root == "item":
            if not has_item:
                raise InputError("`item` is only defined inside a foreach task")
            return item
        raise InputError(f"unknown reference root {ref.root!r}")

    def evaluate(self, expr: Expr, item: Any, what: str, has_item: bool = False) -> Any:
        try:
            return evaluate(expr, self.resolver(item, has_item))
        except EvaluationError as exc:
            raise InputError(f"{what} ({to_template(expr)}): {exc}") from None


def resolve_item(resolver: ValueResolver, task: "Task", index: int | None) -> tuple[bool, Any]:
    """(has_item, item) for this node: a foreach task's node must name its item index."""
    if task.foreach is None:
        if index is not None:
            raise InputError(f"task {task.name} has no foreach, so node {task.name}[{index}] does not exist")
        return False, None
    if index is None:
        raise InputError(f"task {task.name} is a foreach task: run one of its items, e.g. {task.name}[0]")
    return True, resolver.item_at(task, index)


def resolve_task_inputs(
    resolver: ValueResolver, task: "Task", has_item: bool, item: Any, given: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Each declared input of `task`, evaluated (or as the engine `given` it) and type-checked."""
    values: dict[str, Any] = {}
    for binding in task.inputs:
        what = f"input {binding.name!r} of {task.name}"
        if given is not None and binding.name in given:
            value = given[binding.name]
        else:
            value = resolver.evaluate(binding.value, item, what, has_item)
        values[binding.name] = value if binding.type is None else check_value(value, binding.type, what)
    return values
