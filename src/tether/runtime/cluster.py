"""`tether exec --task PAYLOAD`: one attempt on a cluster, from nothing but its arguments and the store.

No `tether run` prepares a cluster run. The pod's arguments carry its task (`core.task_codec`),
the engine passes values it rendered itself (`--input NAME=TEXT` for a task input, `--value
REF=TEXT` for a reference an expression reads, both in engine text, `core.values`), and
everything else comes from the run store:

- the run's record: created by the first exec of the run with a conditional create, so that
  concurrent first pods agree (a run id reused for another workflow is refused);
- `tasks.T.outputs.Y` not given: T's stored outputs (for a fan-out T, the list over its items,
  counted by T's decision record, else by the items that have outputs);
- `inputs.X` not given: the input's default as the payload carries it;
- `item` not given: item i of the task's decision record (`--decide`), else of its `foreach`
  evaluated here.

Skips: a task that reads outputs of a skipped task is skipped (core.graph), and a `when` that is
false (from the decision record, else evaluated here) skips the task: exec then writes no
outputs, records the task as skipped in the store, and exits 0.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..core.expr import ExprSyntaxError, Ref, parse_expr, unparse_ref
from ..core.graph import data_upstream, node_id, parse_node_id, skipping_upstream
from ..core.placeholders import evolve
from ..core.task_codec import PayloadError, TaskPayload, decode_task
from ..core.values import ValueTextError, decode_text, encode_for_kubernetes, encode_text
from .inputs import InputError, ValueResolver, check_value, coerce
from .outcome import EXIT_FATAL, EXIT_SUCCESS, EXIT_USAGE

if TYPE_CHECKING:
    from ..core.ir import Task
    from .store import AttemptRecord, RunStore

ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"
"""Set by AWS Batch in each child of an array job (0-based):
https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html"""


class UsageError(Exception):
    """Arguments that do not describe an attempt: exit 2, nothing recorded."""


@dataclass(frozen=True)
class ClusterRequest:
    """`tether exec` arguments in cluster mode (see commands/exec_.py for their meaning)."""

    store_uri: str
    run_id: str
    node: str
    payload: str
    attempt: int | None = None
    retries: int | None = None
    inputs: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    outputs_dir: str | None = None
    decide: bool = False
    outputs_escape: str | None = None  # one of OUTPUTS_ESCAPES: how the files in outputs_dir are escaped


OUTPUTS_ESCAPES = ("kubernetes",)
"""`--outputs-escape` modes. `kubernetes`: each value as it must be written in container args
(core.values.encode_for_kubernetes), for an engine (Argo) that places it there as text."""


# ---------------------------------------------------------------------------- engine files


def _write_file(directory: str, name: str, text: str) -> None:
    """DIR/name with `text`, atomically (an engine reading the directory never sees half a file)."""
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_ARGO_TRIMMED = "\n"
"""Argo's executor reads an output parameter file and "trims off a single newline for user
convenience" (`SaveParameters`, workflow/executor/executor.go, v3.7.18 and v4.1.2): files written
for it (`--outputs-escape kubernetes`) end with one, so a string ending in a newline keeps it."""


def write_output_files(directory: str, task: "Task", outputs: Mapping[str, Any], escape: str | None = None) -> None:
    """Each declared output as DIR/<name> in engine text (what Argo reads as output parameters),
    escaped for container args with `escape="kubernetes"`: the engine substitutes the text into
    a downstream pod's args, where the kubelet's expansion restores it (core.values)."""
    encode = encode_for_kubernetes if escape == "kubernetes" else encode_text
    end = _ARGO_TRIMMED if escape == "kubernetes" else ""
    for output in task.outputs:
        _write_file(directory, output.name, encode(outputs.get(output.name), output.type) + end)


def write_decision_files(directory: str, when: bool, items: list[Any] | None, escape: str | None = None) -> None:
    """DIR/when ("true"/"false"), DIR/items ([{"i": i, "v": item}]), DIR/count (nodes to run).

    `items` stays a JSON list (Argo's withParam parses it); with `escape="kubernetes"` each
    string inside an item (map keys too) is escaped for container args, because Argo writes a
    list or map item's JSON as `{{item.v}}` into the DAG task and from there into the pod's args
    (`processItem`, https://github.com/argoproj/argo-workflows/blob/main/workflow/controller/operator.go).
    A string item is never read that way (the backend leaves it to the store): escaping it too
    only keeps `{{` out of the node names Argo makes from items.
    """
    listed = [{"i": i, "v": v} for i, v in enumerate(items or [])] if when else []
    count = 0 if not when else (len(items) if items is not None else 1)
    end = _ARGO_TRIMMED if escape == "kubernetes" else ""
    _write_file(directory, "items", (encode_for_kubernetes(listed, None) if escape == "kubernetes" else encode_text(listed, None)) + end)
    _write_file(directory, "count", str(count))
    _write_file(directory, "when", "true" if when else "false")


# ---------------------------------------------------------------------------- values


def _ref_key(text: str) -> str:
    """`tasks.a.outputs.x` / `inputs.n` / `item` in canonical spelling (no path allowed)."""
    try:
        expr = parse_expr(text)
    except ExprSyntaxError as exc:
        raise UsageError(f"--value {text}=...: not a reference: {exc}") from None
    if not isinstance(expr, Ref) or expr.path:
        raise UsageError(f"--value {text}=...: expected inputs.NAME, tasks.TASK.outputs.NAME or item")
    return unparse_ref(expr)


class PayloadResolver(ValueResolver):
    """References for one cluster attempt: engine-given values first, then the store, then defaults."""

    def __init__(self, store: "RunStore", run_id: str, payload: TaskPayload, given: Mapping[str, Any]):
        super().__init__(store, run_id, None, {})  # type: ignore[arg-type]  # no workflow on a cluster
        self.payload = payload
        self.given = dict(given)  # canonical ref text -> decoded value
        self.decisions: dict[str, dict[str, Any] | None] = {}

    def decision(self, task: str) -> dict[str, Any] | None:
        if task not in self.decisions:
            self.decisions[task] = self._store.read_decision(self._run_id, task)
        return self.decisions[task]

    def value(self, ref: Ref, item: Any, has_item: bool) -> object:
        key = unparse_ref(Ref(ref.root, ref.name, ref.task))
        if key in self.given and (ref.root != "item" or has_item):
            return self.given[key]
        return super().value(ref, item, has_item)

    def workflow_input(self, name: str) -> Any:
        declared = self.payload.inputs.get(name)
        if declared is None:
            raise InputError(f"the task reads no workflow input {name!r}")
        if declared.has_default:
            return coerce(declared.default, declared.type)
        if declared.type.optional:
            return None
        raise InputError(f"workflow input {name!r} has no default: pass it with --value inputs.{name}=TEXT")

    def task_outputs(self, task_name: str) -> dict[str, Any]:
        if task_name in self._outputs:
            return self._outputs[task_name]
        if task_name not in self.payload.fanned_out:
            outputs = self._read(task_name)
        else:
            count = self._item_count(task_name)
            items = [self._read(node_id(task_name, i)) for i in range(count)]
            names = sorted({k[len(f"tasks.{task_name}.outputs.") :] for k in self.payload.types if k.startswith(f"tasks.{task_name}.outputs.")})
            outputs = {name: [item.get(name) for item in items] for name in names}
        self._outputs[task_name] = outputs
        return outputs

    def _item_count(self, task_name: str) -> int:
        decision = self.decision(task_name)
        if decision is not None:
            return len(decision.get("items") or []) if decision.get("when", True) else 0
        prefix = f"{task_name}["
        indices = {parse_node_id(n)[1] for n in self._store.list_nodes(self._run_id) if n.startswith(prefix)}
        count = 0
        while count in indices and self._store.read_outputs(self._run_id, node_id(task_name, count)) is not None:
            count += 1
        return count

    def foreach_items(self, task: "Task") -> list[Any]:
        decision = self.decision(task.name)
        if decision is not None and decision.get("items") is not None:
            return list(decision["items"])
        return super().foreach_items(task)

    def item_at(self, task: "Task", index: int) -> Any:
        if "item" in self.given:
            return self.given["item"]
        return super().item_at(task, index)


def decode_given(payload: TaskPayload, inputs: tuple[tuple[str, str], ...], values: tuple[tuple[str, str], ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(--input values by input name, --value values by canonical ref), decoded with their types."""
    task = payload.task
    by_input: dict[str, Any] = {}
    for name, text in inputs:
        binding = task.input(name)
        if binding is None:
            known = ", ".join(b.name for b in task.inputs) or "none"
            raise UsageError(f"--input {name}=...: task {task.name} has no input {name!r} (its inputs: {known})")
        try:
            by_input[name] = decode_text(text, binding.type)
        except ValueTextError as exc:
            raise UsageError(f"--input {name}=...: {exc}") from None
    by_ref: dict[str, Any] = {}
    for ref_text, text in values:
        key = _ref_key(ref_text)
        try:
            by_ref[key] = decode_text(text, payload.type_of(key))
        except ValueTextError as exc:
            raise UsageError(f"--value {ref_text}=...: {exc}") from None
        declared = payload.type_of(key)
        if declared is not None:
            try:
                by_ref[key] = check_value(by_ref[key], declared, f"--value {key}")
            except InputError as exc:
                raise UsageError(str(exc)) from None
    missing = sorted(payload.unbound - by_input.keys())
    if missing:
        raise UsageError(f"task {task.name}'s payload leaves its inputs to the engine: pass --input for {', '.join(missing)}")
    return by_input, by_ref


# ---------------------------------------------------------------------------- the attempt


def _usage(message: str) -> int:
    print(f"tether exec: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def exec_cluster(request: ClusterRequest) -> int:
    """Run one cluster attempt (or, with `decide`, only its verdict) and return the exit code."""
    from .store import RunStore, StoreError

    try:
        payload = decode_task(request.payload)
        task = payload.task
        name, index = parse_node_id(request.node)
        if name != task.name:
            if not payload.shared:
                raise UsageError(f"--node {request.node} is not a node of the payload's task {task.name!r}")
            task = evolve(task, name=name)  # a shared template: every node but the first is renamed
            payload = evolve(payload, task=task)
        if task.foreach is not None and index is None and not request.decide:
            array_index = os.environ.get(ARRAY_INDEX_ENV, "").strip()
            if not array_index.isdigit():
                raise UsageError(f"task {task.name} is a foreach task: run one item, {task.name}[i] (or set {ARRAY_INDEX_ENV})")
            index = int(array_index)
        elif task.foreach is None and index is not None:
            raise UsageError(f"task {task.name} has no foreach, so node {request.node} does not exist")
        given_inputs, given_values = decode_given(payload, request.inputs, request.values)
    except (PayloadError, UsageError, ValueError) as exc:
        return _usage(str(exc))
    try:
        store = RunStore(request.store_uri)
        record = store.ensure_cluster_run(request.run_id, payload.workflow, node_id(task.name, index))
    except (StoreError, ValueError, ImportError) as exc:
        return _usage(f"cannot open the run store {request.store_uri}: {exc}")
    if record.get("workflow") != payload.workflow:
        return _usage(f"run {request.run_id} belongs to workflow {record.get('workflow')!r}, not {payload.workflow!r}: choose another run id")
    try:
        conflict = _pin_inputs(store, request.run_id, given_values)
    except StoreError as exc:
        return _usage(f"cannot record the run's inputs in {request.store_uri}: {exc}")
    if conflict is not None:
        return _usage(conflict)
    values = PayloadResolver(store, request.run_id, payload, given_values)
    if request.decide:
        from .decide import decide

        return decide(store, request.run_id, task, values, request.outputs_dir, request.outputs_escape)
    from .decide import verdict

    try:
        when, _items, reason = verdict(store, request.run_id, task, values, need_items=False)
    except InputError as exc:
        print(f"tether: {task.name}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    if not when:
        print(f"tether: {node_id(task.name, index)} skipped: {reason}", file=sys.stderr)
        return EXIT_SUCCESS
    return _run(store, request, payload, index, values, given_inputs)


def _pin_inputs(store: "RunStore", run_id: str, given_values: Mapping[str, Any]) -> str | None:
    """A run's workflow inputs are what its first attempts were given: a later attempt given
    another value (AWS Batch jobs resubmitted under the same run id with other `-p` values) is
    refused, as `tether run --resume` refuses -p, so no run mixes results of two sets of inputs.
    Workflow inputs arrive as `--value inputs.X=` (Batch's `Ref::in_X`); on Argo the run id is
    the Workflow's uid, which no resubmission with other parameters shares."""
    for key, value in sorted(given_values.items()):
        if not key.startswith("inputs."):
            continue
        pinned = store.pin_input(run_id, key[len("inputs."):], value)
        if pinned != value:
            return (f"run {run_id} was started with {key} = {json.dumps(pinned)}, and this attempt was given "
                    f"{json.dumps(value)}: resubmit it with the values it started with, or as a new run")
    return None


def _run(store: "RunStore", request: ClusterRequest, payload: TaskPayload, index: int | None, values: PayloadResolver, given_inputs: Mapping[str, Any]) -> int:
    from .entry import _Attempt, resolve_attempt_number

    node = node_id(payload.task.name, index)
    attempt = request.attempt if request.attempt is not None else (None if request.retries is None else request.retries + 1)
    try:
        number = resolve_attempt_number(store, request.run_id, node, attempt)
    except ValueError as exc:
        return _usage(str(exc))
    if number < 1:
        return _usage(f"attempt numbers start at 1, got {number}")
    number = journal_number(store.attempts(request.run_id, node), number)
    return _Attempt(store, values, request.run_id, node, payload.task, index, number, (), given_inputs, request.outputs_dir,
                    outputs_escape=request.outputs_escape).run()


def journal_number(attempts: "Sequence[AttemptRecord]", platform: int) -> int:
    """The journal number of the attempt the platform counts as `platform` (1-based).

    The platform's count restarts when a run goes again under the same run id: a job submitted
    anew starts at AWS_BATCH_JOB_ATTEMPT=1 (https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html),
    and `argo retry` resets the failed nodes (`FormulateRetryWorkflow`, workflow/util/util.go), so
    `{{retries}}`, the retry node's count of children (`executeTemplate`,
    workflow/controller/operator.go), starts at 0 again. A number that names an attempt of an
    earlier go must not write over its journal, log and checkpoints: the attempt then continues
    after the journal, as `tether run --resume` does, and the budgets count every earlier attempt
    (outcome.Budget.from_journal). The platform's number is kept when it is past the journal, or
    when it names the newest attempt and that attempt has no end: the same attempt delivered again
    (its container restarted), which takes no second number and is charged once.
    """
    newest = max((a.number for a in attempts), default=0)
    if platform > newest:
        return platform
    if platform == newest and next(a for a in attempts if a.number == platform).outcome is None:
        return platform
    return newest + 1


def skipped_upstream(store: "RunStore", run_id: str, task: "Task", given: Mapping[str, Any]) -> list[str]:
    """Data-upstream tasks recorded as skipped (those whose values the engine passed ran)."""
    passed = {key.split(".")[1] for key in given if key.startswith("tasks.")}
    skipped = {t for t in data_upstream(task) - passed if store.read_skipped(run_id, t) is not None}
    return skipping_upstream(task, skipped)
