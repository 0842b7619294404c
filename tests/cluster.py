"""A test cluster: an engine that runs a workflow by starting only `tether exec` processes.

It behaves as Argo or AWS Batch would with the manifests the backends generate: each node is a
`tether exec --task PAYLOAD` process; tasks with `when` or `foreach` first get a `--decide`
step; values travel between nodes only as the engine text exec wrote to its `--outputs-dir`
(and the workflow's input values); a fan-out's outputs reach a reader as Argo aggregates them, a
JSON list of the items' parameter texts. Retries follow exit codes (75 and 143 start the next
attempt, anything else ends the node); exec itself refuses an attempt past the task's budget.
Independent tasks run at the same time, on a small thread pool of subprocesses.

`Injection`s send SIGTERM into one attempt (after its first checkpoint commit when it has a
checkpoint, else once it has recorded its start) as a spot reclaim would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tether.core.expr import Ref, evaluate, refs, unparse_ref
from tether.core.graph import node_id
from tether.core.ir import Task, Workflow, topological_order
from tether.core.task_codec import encode_task, item_type
from tether.core.values import decode_text, encode_text
from tether.runtime.store import RunStore

_POLL_S = 0.02
_DEADLINE_S = 120.0


@dataclass(frozen=True)
class Injection:
    node: str
    attempt: int


@dataclass
class NodeResult:
    codes: list[int] = field(default_factory=list)
    texts: dict[str, str] | None = None  # the engine's view: output name -> engine text
    stderr: str = ""


@dataclass
class TaskState:
    skipped: bool = False
    nodes: list[NodeResult] = field(default_factory=list)
    fanned: bool = False


class Cluster:
    """Runs one workflow; `run()` returns {task: TaskState}. Fails loudly on any failed node."""

    def __init__(self, workflow: Workflow, store_uri: str, run_id: str, params: Mapping[str, Any], env: Mapping[str, str], cwd: str, injections: tuple[Injection, ...] = ()):
        self.workflow = workflow
        self.store_uri = store_uri
        self.run_id = run_id
        self.params = dict(params)
        self.env = dict(env)
        self.cwd = cwd
        self.injections = injections
        self.states: dict[str, TaskState] = {}
        self.work = tempfile.mkdtemp(prefix="tether-cluster-")

    # ------------------------------------------------------------------ the engine

    def run(self, parallel: int = 3) -> dict[str, TaskState]:
        pending = list(topological_order(self.workflow.tasks))
        running: dict[str, Any] = {}
        with ThreadPoolExecutor(parallel) as pool:
            while pending or running:
                for task in list(pending):
                    if all(u in self.states for u in task.upstream()):
                        pending.remove(task)
                        running[task.name] = pool.submit(self._run_task, task)
                for name, future in list(running.items()):
                    if future.done():
                        self.states[name] = future.result()  # raises what the task raised
                        del running[name]
                time.sleep(_POLL_S)
        return self.states

    def _run_task(self, task: Task) -> TaskState:
        state = TaskState(fanned=task.foreach is not None)
        items: list[Any] | None = None
        if task.when is not None or task.foreach is not None:
            out = self._dir(f"{task.name}.decide")
            code, err = self._exec(task, task.name, ["--decide", "--outputs-dir", out, *self._values(task, decide=True)])
            assert code == 0, f"decide {task.name} exited {code}: {err}"
            if Path(out, "when").read_text() == "false":
                state.skipped = True
                return state
            count = int(Path(out, "count").read_text())
            if task.foreach is not None:
                items = [entry["v"] for entry in json.loads(Path(out, "items").read_text())]
                assert len(items) == count
        if items is None:
            state.nodes.append(self._run_node(task, task.name, None))
        else:
            element = item_type(task, self.workflow)
            with ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(self._run_node, task, node_id(task.name, i), encode_text(v, element)) for i, v in enumerate(items)]
                state.nodes.extend(f.result() for f in futures)
        return state

    def _run_node(self, task: Task, node: str, item_text: str | None) -> NodeResult:
        result = NodeResult()
        limit = 1 + task.retry.retries + (task.interruptible.max_interruptions if task.interruptible else 0)
        args = [*self._inputs(task), *self._values(task, decide=False)]
        if item_text is not None:
            args += ["--value", f"item={item_text}"]
        for attempt in range(1, limit + 1):
            out = self._dir(f"{node}.{attempt}")
            injected = Injection(node, attempt) in self.injections
            code, err = self._exec(task, node, ["--retries", str(attempt - 1), "--outputs-dir", out, *args], injected, attempt)
            result.codes.append(code)
            result.stderr += err
            if code == 0:
                names = sorted(os.listdir(out)) if os.path.isdir(out) else []
                result.texts = {name: Path(out, name).read_text() for name in names if not name.startswith(".")} if names else None
                return result
            if code not in (75, 143):
                break
        raise AssertionError(f"{node} failed with exit codes {result.codes}:\n{result.stderr}")

    def _exec(self, task: Task, node: str, extra: list[str], inject: bool = False, attempt: int = 1) -> tuple[int, str]:
        argv = [sys.executable, "-m", "tether", "exec", "--store", self.store_uri, "--run", self.run_id, "--node", node, "--task", encode_task(task, self.workflow), *extra]
        log = Path(self.work, f"{node}.{len(os.listdir(self.work))}.log")
        with open(log, "w") as handle:
            process = subprocess.Popen(argv, env=self.env, cwd=self.cwd, stdout=handle, stderr=subprocess.STDOUT)
            if inject:
                self._interrupt_when_ready(process, task, node, attempt)
            code = process.wait(timeout=_DEADLINE_S)
        return code, log.read_text()

    def _interrupt_when_ready(self, process: subprocess.Popen[bytes], task: Task, node: str, attempt: int) -> None:
        """SIGTERM after the attempt's first checkpoint commit (Python tasks with a checkpoint),
        else once it has recorded its start."""
        store = RunStore(self.store_uri, json.loads(self.env.get("TETHER_STORE_OPTIONS", "{}")))
        give_up = time.monotonic() + _DEADLINE_S
        wants_checkpoint = task.checkpoint is not None and task.container is None
        while process.poll() is None and time.monotonic() < give_up:
            if wants_checkpoint:
                if store.checkpoint(self.run_id, node, attempt, task.checkpoint.keep).latest() is not None:  # type: ignore[union-attr]
                    break
            elif any(a.number == attempt for a in store.attempts(self.run_id, node)):
                break
            time.sleep(_POLL_S)
        process.send_signal(signal.SIGTERM)

    def _dir(self, name: str) -> str:
        return str(Path(self.work, name.replace("[", ".").replace("]", "")))

    # ------------------------------------------------------------------ values, as an engine passes them

    def _inputs(self, task: Task) -> list[str]:
        """--input for each binding that is one whole reference an engine can substitute."""
        args = []
        for binding in task.inputs:
            expr = binding.value
            if isinstance(expr, Ref) and not expr.path and expr.root != "item":
                text = self._ref_text(expr)
                if text is not None:
                    args += ["--input", f"{binding.name}={text}"]
        return args

    def _values(self, task: Task, decide: bool) -> list[str]:
        """--value for every reference in the task's other expressions (the engine renders them)."""
        exprs = [e for e in (task.when, task.foreach) if e is not None] if decide else list(task.expressions())
        keys: dict[str, Ref] = {}
        for expr in exprs:
            for ref in refs(expr):
                if ref.root != "item":
                    keys.setdefault(unparse_ref(Ref(ref.root, ref.name, ref.task)), Ref(ref.root, ref.name, ref.task))
        args = []
        for key, ref in sorted(keys.items()):
            text = self._ref_text(ref)
            if text is not None:
                args += ["--value", f"{key}={text}"]
        return args

    def _ref_text(self, ref: Ref) -> str | None:
        """Engine text of a reference's root: a parameter, or what an upstream wrote (None: absent)."""
        if ref.root == "inputs":
            declared = self.workflow.input(ref.name or "")
            assert declared is not None
            if ref.name in self.params:
                return encode_text(self.params[ref.name], declared.type)
            return None  # exec falls back on the default the payload carries
        state = self.states[ref.task or ""]
        if state.skipped or any(n.texts is None for n in state.nodes):
            return None
        texts = [n.texts[ref.name or ""] for n in state.nodes]  # type: ignore[index]
        if state.fanned:
            return json.dumps(texts)  # Argo's aggregate: a JSON list of the items' parameter texts
        return texts[0]

    # ------------------------------------------------------------------ results

    def node_outputs(self) -> dict[str, dict[str, Any]]:
        """Every node's outputs decoded from the engine's files (the engine's view)."""
        outputs: dict[str, dict[str, Any]] = {}
        for name, state in self.states.items():
            task = self.workflow.task(name)
            assert task is not None
            for i, node in enumerate(state.nodes):
                if node.texts is not None:
                    node_name = node_id(name, i if state.fanned else None)
                    outputs[node_name] = {o.name: decode_text(node.texts[o.name], o.type) for o in task.outputs}
        return outputs

    def workflow_outputs(self) -> dict[str, Any]:
        """Workflow outputs from the node outputs, null where a skipped task is read."""
        node_values = self.node_outputs()
        result: dict[str, Any] = {}
        for output in self.workflow.outputs:
            read = {r.task for r in refs(output.value) if r.root == "tasks"}
            if any(self.states[t].skipped or not self.states[t].nodes or self.states[t].nodes[0].texts is None for t in read if t):
                result[output.name] = None
                continue

            def resolve(ref: Ref) -> object:
                state = self.states[ref.task or ""]
                if state.fanned:
                    return [node_values[node_id(ref.task or "", i)][ref.name or ""] for i in range(len(state.nodes))]
                return node_values[ref.task or ""][ref.name or ""]

            result[output.name] = evaluate(output.value, resolve)
        return result


__all__ = ["Cluster", "Injection"]
