"""The local DAG executor: runs a workflow's tasks on this machine as a cluster would.

One process, one thread, one loop. It launches each attempt as its own process (see worker.py),
waits for any of them to end (pidfds and a signal wake-up pipe in one `select`), and decides
what happens next from the run store's journal, never from counters of its own, so a resumed
run (`--resume`, even after the executor was SIGKILLed) counts exactly what the journal says.

Semantics a person should know:

- `when` is evaluated once per task, when its upstream tasks are done; false -> the task is
  skipped. A task that reads an output of a skipped task (in its inputs, `when` or `foreach`) is
  skipped too, as in Argo, where a skipped task's outputs do not exist; a task that only comes
  `after:` a skipped task still runs (Argo's `depends` counts Skipped as complete). A workflow
  output that reads a skipped task is null.
- `foreach` is evaluated when the task's upstreams are done; item i runs as node `TASK[i]`;
  downstream sees the list of the items' outputs, in item order.
- A fatal failure stops new work (no new tasks, no retries); running attempts finish and the
  run fails. Ctrl-C or SIGTERM sends the running attempts SIGTERM (they flush their
  checkpoints), records them as "cancelled" (no budget used) and stops; `tether run --resume
  RUN` continues from there. A second Ctrl-C kills them at once.
- Each attempt leads its own process group (runtime/procgroup.py): a SIGTERM it gets is passed on
  to everything it started, a SIGKILL reaches the whole group, and it dies with the executor
  (PR_SET_PDEATHSIG), so no process outlives its run.
- A timeout sends SIGTERM, then SIGKILL (to the attempt's whole group) after `kill_grace_s`, and
  is recorded as "timeout" (a recoverable failure: it uses the user budget).
- `--interrupt NODE@K` sends attempt K SIGTERM as a spot reclaim would (see interrupts.py); the
  attempt records "interrupted" and is retried on the interruption budget.
- SIGHUP (a closed terminal or ssh session) stops the run exactly like SIGTERM.
- On resume, a node with outputs is done; an attempt that started and never ended was lost with
  the executor that ran it (`tether run` was SIGKILLed, or crashed): it is recorded as
  "cancelled", like an attempt stopped by Ctrl-C, so an executor's crash uses no task's budget.
  (The run's lease, held by every `tether run`, guarantees its executor is gone. On a cluster,
  where no executor holds a lease, a vanished attempt still counts as an interruption.)
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..core.expr import EvaluationError, Ref, evaluate, refs
from ..core.graph import node_ids, skipping_upstream
from ..core.ir import Task, Workflow
from . import retry
from .interrupts import InterruptRequest
from .entry import EXIT_STORE_FAILURE
from .outcome import EXIT_RECOVERABLE
from .cache import CacheKeys, RunCache
from .report import NodeReport, NodeView, Reporter, RunReport, Status
from .respec import NodeKeys
from .store import AttemptRecord, RunRecord, RunStore, StoreError, utc_now
from .worker import Attempt, launch

STATUS_EVERY_S = 0.5
"""status.json is rewritten at most this often while a run goes on (and once when it ends)."""

KILL_GRACE_S = 10.0
"""Between the SIGTERM of a timeout and the SIGKILL: time to flush a checkpoint."""

DEFAULT_INTERRUPT_AFTER_S = 1.0
"""The latest an injected interruption of a task without a declared checkpoint fires."""

_CHECKPOINT_POLL_S = 0.02
_NOT_STARTED = "not started: the run stopped"


@dataclass
class Node:
    """One runnable unit: a task, or one item of a foreach task. Mutable run-time state."""

    node_id: str
    task: Task
    status: Status = Status.PENDING
    number: int = 0  # the newest attempt started (journal numbering, continued on resume)
    process: Attempt | None = None
    started_at: float = 0.0
    retry_at: float | None = None
    timeout_at: float | None = None
    kill_at: float | None = None
    timed_out: bool = False
    interrupt: InterruptRequest | None = None
    interrupt_at: float | None = None
    interrupt_sent: bool = False
    cancelled: bool = False  # SIGTERMed because the run itself was stopped (Ctrl-C)
    checkpoint_marker: int | None = None  # newest checkpoint seq at launch, for "after first commit"
    message: str = ""
    outputs: dict[str, Any] | None = None
    journal_checked: bool = False  # on resume: the store was asked whether this node is done
    cache_checked: bool = False  # the cache was asked about this node (once, before its first attempt)
    cache_keys: CacheKeys | None = None  # a task with `cache`: where its result is (or will be) kept
    cached_from: dict[str, str] | None = None  # CACHED: the run and node whose outputs it reused


@dataclass
class TaskGroup:
    """A task's nodes: one, or one per foreach item; None until its upstreams are done."""

    task: Task
    nodes: list[Node] | None = None
    status: Status = Status.PENDING  # PENDING while not expanded; then derived from the nodes
    message: str = ""

    def current_status(self) -> Status:
        if self.nodes is None:
            return self.status
        if not self.nodes:
            return Status.DONE
        statuses = {n.status for n in self.nodes}
        for status in (Status.FAILED, Status.STOPPED):
            if status in statuses and all(s.terminal for s in statuses):
                return status
        if statuses <= {Status.DONE, Status.CACHED}:
            return Status.DONE
        if statuses == {Status.PENDING}:
            return Status.PENDING
        return Status.RUNNING


@dataclass
class Executor:
    store: RunStore
    run_id: str
    workflow: Workflow
    params: Mapping[str, Any]  # every workflow input's value (defaults applied)
    max_parallel: int = field(default_factory=lambda: os.cpu_count() or 1)
    interrupts: Sequence[InterruptRequest] = ()
    reporter: Reporter = field(default_factory=Reporter)
    resuming: bool = False
    record: RunRecord | None = None  # the run as load_run gives it; forked attempts reuse it
    kill_grace_s: float = KILL_GRACE_S
    heartbeat: Callable[[], str | None] | None = None  # renews the run's lease; returns why it was lost
    heartbeat_s: float = 15.0
    use_cache: bool = True  # False: `--no-cache`, every node runs and no cache entry is written
    respec: bool = False  # `--resume --spec`: a finished node whose definition or inputs changed runs again
    # A Ctrl-C / SIGTERM that came after the run was created but before this executor's own
    # handlers (commands/run.py defers it): the run stops at once, as if it came just after.
    pending_signal: Callable[[], int | None] | None = None

    def __post_init__(self) -> None:
        self._groups = {t.name: TaskGroup(t) for t in self.workflow.tasks}
        self._upstream = {t.name: [u for u in t.upstream() if u in self._groups] for t in self.workflow.tasks}
        self._unexpanded = list(self._groups.values())  # pending tasks, in topological order
        self._stopping = False  # a fatal failure: no new work
        self._signalled: int | None = None  # Ctrl-C / SIGTERM / SIGHUP: interrupt running attempts
        self._lease_lost: str | None = None  # another executor took the run over: stop
        self._started = time.monotonic()
        self._next_beat = self._started + self.heartbeat_s
        self._cache = RunCache(self.store, self.run_id, self.workflow, self.params) if self.use_cache else None
        self._keys = NodeKeys(self.store, self.run_id, self.workflow, self.params)
        self._started_utc = utc_now()
        self._status_due: float | None = None  # status.json is stale: write it at this time
        self._status_written = 0.0

    # ------------------------------------------------------------------ the loop

    def run(self) -> RunReport:
        self._write_status()
        uploaded = self.store.upload_spooled_logs(self.run_id)
        if uploaded:
            self.reporter.note(f"uploaded {len(uploaded)} attempt log(s) an earlier executor left unsent")
        with self._signal_pipe() as wakeup:
            if self._signalled is None and self.pending_signal is not None:
                self._signalled = self.pending_signal()
            try:
                if self._signalled is not None:  # stopped before anything started: nothing is launched
                    self._stop_on_signal()
                self._loop(wakeup)
            except BaseException as exc:
                # A bug or a store failure here: leave no orphans behind. The attempts flush
                # their checkpoints, so `--resume` picks up from them; they are recorded as
                # cancelled (when the store still takes it): the executor's crash is no task's.
                for node in self._running():
                    assert node.process is not None
                    node.process.send(signal.SIGTERM)
                    try:
                        message = "stopped with its executor, which failed; uses no retry budget"
                        self.store.record_end(self.run_id, node.node_id, node.number, "cancelled", None, {"message": message})
                    except Exception:  # the store is what failed: resume records it as lost, also cancelled
                        pass
                self._write_failed_status(exc)
                raise
        try:
            report = self._report()
            self.store.write_status(self.run_id, {**report.to_json(), **self._status_times(report.duration_s)})
        except BaseException as exc:
            self._write_failed_status(exc)
            raise
        return report

    def _write_failed_status(self, exc: BaseException) -> None:
        """status.json says "failed" (not "running" forever) when the executor dies of an
        exception, whenever the store still takes the write."""
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc)
        try:
            status = {"status": "failed", "run_id": self.run_id, "error": error, **self._status_times(None)}
            self.store.write_status(self.run_id, status)
        except Exception:  # the store is what failed; the caller reports the first error
            pass

    def _loop(self, wakeup: int | None) -> None:
        while True:
            self._schedule()
            running = self._running()
            if not running and not any(n.status is Status.RETRYING for n in self._nodes()):
                return
            self._wait(running, wakeup)
            for node in running:
                code = node.process.poll() if node.process else None
                if code is not None:
                    self._ended(node, code)
            self._fire_timers()
            self._beat()
            if self._status_due is not None and time.monotonic() >= self._status_due:
                self._write_status()
            if self.reporter.tick_s is not None:
                self.reporter.tick(self.views())

    def _nodes(self) -> Iterator[Node]:
        for group in self._groups.values():
            yield from group.nodes or ()

    def _running(self) -> list[Node]:
        return [n for n in self._nodes() if n.process is not None]

    def _wait(self, running: list[Node], wakeup: int | None) -> None:
        timeout = self._next_timer() - time.monotonic()
        if self.reporter.tick_s is not None:
            timeout = min(timeout, self.reporter.tick_s)
        fds = [n.process.pidfd for n in running if n.process and n.process.pidfd is not None]
        if len(fds) < len(running):  # no pidfds here: poll
            timeout = min(timeout, 0.005)
        if wakeup is not None:
            fds.append(wakeup)
        timeout = max(timeout, 0.0)
        if fds:
            poller = select.poll()  # no FD_SETSIZE limit, unlike select.select
            for fd in fds:
                poller.register(fd, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(timeout * 1000)}
            if wakeup is not None and wakeup in ready:
                os.read(wakeup, 512)
        elif timeout > 0:
            time.sleep(timeout)
        if self._signalled is not None and not self._stopping:
            self._stop_on_signal()

    def _next_timer(self) -> float:
        now = time.monotonic()
        times = [now + 3600.0]
        if self.heartbeat is not None:
            times.append(self._next_beat)
        if self._status_due is not None:
            times.append(self._status_due)
        for node in self._nodes():
            for moment in (node.retry_at, node.timeout_at, node.kill_at, node.interrupt_at):
                if moment is not None:
                    times.append(moment)
            if node.process is not None and self._awaiting_checkpoint(node):
                times.append(now + _CHECKPOINT_POLL_S)
        return min(times)

    # ------------------------------------------------------------------ scheduling

    def _schedule(self) -> None:
        """Expand tasks whose upstreams are done; launch what may run, up to max_parallel.

        Repeats until nothing changes: on resume a node found done in the store settles at
        once, which may make its downstream tasks ready in the same pass.
        """
        progressed = True
        while progressed:
            progressed = False
            for group in list(self._unexpanded):
                if self._maybe_expand(group):
                    self._unexpanded.remove(group)
                    progressed = True
            progressed |= self._launch_ready()

    def _launch_ready(self) -> bool:
        """Start ready nodes; True when a node settled without running (done earlier, stopped)."""
        settled = False
        slots = self.max_parallel - len(self._running())
        now = time.monotonic()
        for node in self._nodes():
            if self._stopping and node.status in (Status.PENDING, Status.RETRYING):
                why = f"{node.message}; not retried: the run stopped" if node.message else _NOT_STARTED
                node.retry_at = None
                self._set(node, Status.STOPPED, why)
                settled = True
                continue
            if node.status is Status.PENDING or (
                node.status is Status.RETRYING and node.retry_at is not None and node.retry_at <= now
            ):
                first_look = node.status is Status.PENDING and self.resuming and not node.journal_checked
                if first_look and self._already_done(node):
                    settled = True
                    continue
                if node.status is Status.PENDING and not node.cache_checked and self._cached(node):
                    settled = True
                    continue
                if slots <= 0:
                    continue
                self._start(node)
                slots -= 1
        return settled

    def _maybe_expand(self, group: TaskGroup) -> bool:
        """Decide a ready task's fate: skipped, failed, or its nodes; False while it must wait."""
        task = group.task
        upstream = [self._groups[name] for name in self._upstream[task.name]]
        states = [u.current_status() for u in upstream]
        if not all(s.terminal for s in states):
            return False
        if self._stopping or any(s in (Status.FAILED, Status.STOPPED) for s in states):
            self._settle(group, Status.STOPPED, _NOT_STARTED)
            return True
        skipped = skipping_upstream(task, {u.task.name for u in upstream if u.current_status() is Status.SKIPPED})
        if skipped:
            self._settle(group, Status.SKIPPED, f"it reads outputs of skipped task {', '.join(skipped)}")
            return True
        try:
            if task.when is not None and not evaluate(task.when, self._resolver()):
                self._settle(group, Status.SKIPPED, "`when` is false")
                return True
            items = evaluate(task.foreach, self._resolver()) if task.foreach is not None else None
        except (EvaluationError, LookupError) as exc:
            self._settle(group, Status.FAILED, f"cannot evaluate its expressions: {exc}")
            self._stopping = True
            return True
        if task.foreach is not None and not isinstance(items, list):
            self._settle(group, Status.FAILED, f"`foreach` gave {type(items).__name__}, not a list")
            self._stopping = True
            return True
        group.nodes = [Node(node, task) for node in node_ids(task, None if items is None else len(items))]
        if items is not None:
            if not items:
                group.message = "foreach over an empty list: nothing to run"
                self.reporter.note(f"{task.name}: {group.message}")
        for node in group.nodes:
            self.reporter.node_changed(self._view(node))
        self._status_changed()
        return True

    def _settle(self, group: TaskGroup, status: Status, message: str) -> None:
        group.status, group.message = status, message
        self._status_changed()
        self.reporter.node_changed(NodeView(group.task.name, status, 0, message=message))

    def _already_done(self, node: Node) -> bool:
        """On resume: a node with outputs is done; an attempt left without an end was lost."""
        node.journal_checked = True
        outputs = self.store.read_outputs(self.run_id, node.node_id)
        attempts = self.store.attempts(self.run_id, node.node_id)
        node.number = max((a.number for a in attempts), default=0)
        for lost in (a for a in attempts if a.outcome is None):
            # Killed after writing its outputs (they are written last) means it succeeded.
            succeeded = outputs is not None and lost.number == node.number
            self.store.record_end(
                self.run_id,
                node.node_id,
                lost.number,
                "success" if succeeded else "cancelled",
                None,
                {"message": "lost with the executor that ran it (tether run was killed); uses no retry budget"},
            )
        if outputs is not None and self.respec:
            why = self._changed_since(node, attempts)
            if why is not None:  # its result no longer holds: it runs again, from nothing
                self.store.supersede_node(self.run_id, node.node_id)
                self.reporter.note(f"{node.node_id}: runs again: {why}")
                return False
        if outputs is not None:
            node.outputs = outputs
            self._set(node, Status.DONE, "in an earlier run")
            return True
        return False

    def _changed_since(self, node: Node, attempts: Sequence[AttemptRecord]) -> str | None:
        """`--resume --spec`: why a finished node's result does not hold under the new spec
        (runtime/respec.py), None when it is kept. A cached result's keys are in cached.json."""
        finished = [a.number for a in attempts if a.outcome in ("success", None)]
        recorded = self.store.read_result_keys(self.run_id, node.node_id, finished[-1] if finished else None)
        return self._keys.changed(node.task, node.node_id, recorded)

    def _record_inputs(self, node: Node) -> None:
        """Before an attempt starts: the keys of what it computes from, for `--resume --spec`."""
        if node.cache_keys is not None:
            keys: dict[str, str] | None = {"definition_key": node.cache_keys.definition, "inputs_key": node.cache_keys.inputs}
        else:
            keys = self._keys.keys(node.task, node.node_id)
        if keys is not None:  # inputs that do not resolve: the attempt fails and says why
            self.store.record_node_inputs(self.run_id, node.node_id, node.number, keys)

    def _cached(self, node: Node) -> bool:
        """Before a node's first attempt: settle it from the cache when an entry can be reused
        (runtime/cache.py). Its outputs are written to this run, so downstream reads them as
        any node's; cached.json records where they came from."""
        node.cache_checked = True
        if self._cache is None or node.task.cache is None:
            return False
        node.cache_keys = self._cache.keys(node.task, node.node_id)
        hit = self._cache.lookup(node.task, node.cache_keys) if node.cache_keys is not None else None
        if hit is None:
            return False
        source = hit.source()
        self.store.record_cached(self.run_id, node.node_id, {**source, "definition_key": node.cache_keys.definition,
                                                             "inputs_key": node.cache_keys.inputs})
        self.store.write_outputs(self.run_id, node.node_id, hit.outputs)
        node.outputs, node.cached_from = hit.outputs, source
        self._set(node, Status.CACHED, f"from run {hit.run_id}")
        return True

    def _remember(self, node: Node) -> None:
        """A node of a task with `cache` succeeded: keep its outputs for later runs."""
        if self._cache is None or node.cache_keys is None or node.outputs is None:
            return
        problem = self._cache.remember(node.task, node.cache_keys, node.node_id, node.outputs)
        if problem is not None:  # the run's result stands; only later runs miss this entry
            self.reporter.note(f"{node.node_id}: its result was not cached: {problem}")

    # ------------------------------------------------------------------ attempts

    def _start(self, node: Node) -> None:
        node.number += 1
        node.retry_at = None
        node.timed_out = node.cancelled = False
        node.started_at = time.monotonic()
        node.timeout_at = node.started_at + node.task.timeout_s if node.task.timeout_s else None
        node.interrupt = next(
            (r for r in self.interrupts if r.node_id == node.node_id and r.attempt == node.number), None
        )
        node.interrupt_at = None
        node.interrupt_sent = False
        node.checkpoint_marker = None
        if node.interrupt is not None:
            if node.interrupt.after_s is not None:
                node.interrupt_at = node.started_at + node.interrupt.after_s
            else:  # at the first checkpoint commit; without one to wait for, 1 s at the latest
                node.checkpoint_marker = self._checkpoint_marker(node)
                # A container task's checkpoint directory is committed only when its command
                # ends (or is terminated), so there is no first commit to wait for.
                if node.task.checkpoint is None or node.task.container is not None:
                    node.interrupt_at = node.started_at + DEFAULT_INTERRUPT_AFTER_S
        node.process = launch(self.store, self.run_id, node.node_id, node.number, self.record)
        self._record_inputs(node)  # while the attempt starts; its end is read only after this
        self._set(node, Status.RUNNING, "")

    def _ended(self, node: Node, code: int) -> None:
        process = node.process
        assert process is not None
        node.process = None
        node.timeout_at = node.kill_at = node.interrupt_at = None
        duration = round(time.monotonic() - node.started_at, 3)
        process.finish_log(self.store, self.run_id)
        if self._signalled is not None and not node.timed_out:
            # Ended while the run was being stopped (say SIGHUP reached it with the executor):
            # cancelled. A success or failure it recorded itself still wins (store precedence).
            node.cancelled = True
        if node.cancelled:
            info = {"duration_s": duration, "message": self._cancel_message()}
            self.store.record_end(self.run_id, node.node_id, node.number, "cancelled", code, info)
        elif node.timed_out:
            self.store.record_end(
                self.run_id,
                node.node_id,
                node.number,
                "timeout",
                code,
                {"duration_s": duration, "message": f"timed out after {node.task.timeout_s}s"},
            )
        if code == EXIT_STORE_FAILURE and not (node.timed_out or node.cancelled):
            self._store_failed(node, code, duration)
            return
        if node.interrupt is not None and not node.interrupt_sent:
            self.reporter.note(f"{node.node_id}: attempt {node.number} ended before its interruption fired")
        if code == 0 and not (node.timed_out or node.cancelled):  # exit 0 comes only after recording success
            node.outputs = self.store.read_outputs(self.run_id, node.node_id)
            if node.outputs is not None:
                self._set(node, Status.DONE, "")
                self._remember(node)
                return
        attempts = self._close_journal(node, code, duration)
        if attempts[-1].outcome == "success":
            node.outputs = self.store.read_outputs(self.run_id, node.node_id) or {}
            self._set(node, Status.DONE, "")
            self._remember(node)
            return
        verdict = retry.next_step(node.task, attempts)
        last = attempts[-1]
        code_text = f" (exit {last.exit_code})" if last.exit_code is not None else ""
        what = f"attempt {node.number} {last.outcome}{code_text}"
        if self._signalled is not None or self._lease_lost is not None:
            self._set(node, Status.STOPPED, f"{what}: the run was interrupted")
        elif verdict.retry and not self._stopping:
            node.retry_at = time.monotonic() + verdict.delay_s
            self._set(node, Status.RETRYING, f"{what}: {verdict.reason}")
        elif verdict.retry:
            self._set(node, Status.STOPPED, f"{what}: not retried, the run is stopping")
        else:
            self._stopping = True
            why = last.message if last.outcome == "fatal" and last.message else verdict.reason
            self._set(node, Status.FAILED, f"{what}: {why}")

    def _store_failed(self, node: Node, code: int, duration: float) -> None:
        """The attempt could not use the run store: the run fails, and the task is charged
        nothing (recorded "cancelled" if the store takes it, else resume finds it lost)."""
        why = "the run store failed"
        try:
            log = self.store.read_log(self.run_id, node.node_id, node.number) or b""
            said = [line for line in log.decode(errors="replace").splitlines() if line.startswith("tether exec: error: ")]
            if said:
                why = said[-1].removeprefix("tether exec: error: ")
            message = f"{why}; uses no retry budget"
            info = {"duration_s": duration, "message": message}
            self.store.record_end(self.run_id, node.node_id, node.number, "cancelled", code, info)
        except StoreError:
            pass
        self._stopping = True
        self._set(node, Status.FAILED, f"attempt {node.number}: {why} (not charged to the task)")

    def _close_journal(self, node: Node, code: int, duration: float) -> list[AttemptRecord]:
        """The node's attempts, after making sure the one that just ended has a start and an end.

        An attempt killed by a signal before its handler ran, or one that crashed before
        `run_attempt` recorded anything, leaves a gap; the executor fills it with what it saw.
        """
        attempts = self.store.attempts(self.run_id, node.node_id)
        mine = next((a for a in attempts if a.number == node.number), None)
        if mine is not None and mine.outcome is not None:
            return attempts
        if mine is None:
            self.store.record_start(self.run_id, node.node_id, node.number, {"recorded_by": "executor"})
        signalled = code < 0 or code in (128 + signal.SIGTERM, 128 + signal.SIGKILL)
        outcome = "interrupted" if signalled else ("recoverable" if code == EXIT_RECOVERABLE else "fatal")
        message = (
            f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited {code} without recording an end"
        )
        self.store.record_end(
            self.run_id,
            node.node_id,
            node.number,
            outcome,
            code if code >= 0 else 128 - code,
            {"duration_s": duration, "message": message},
        )
        return self.store.attempts(self.run_id, node.node_id)

    def _fire_timers(self) -> None:
        now = time.monotonic()
        for node in self._nodes():
            process = node.process
            if process is None:
                continue
            if node.timeout_at is not None and now >= node.timeout_at:
                node.timeout_at = None
                node.timed_out = True
                self.reporter.note(f"{node.node_id}: attempt {node.number} timed out after {node.task.timeout_s}s")
                self._terminate(node)
            if self._awaiting_checkpoint(node) and self._checkpoint_marker(node) != node.checkpoint_marker:
                node.interrupt_at = now  # its first checkpoint is committed: now there is something to resume
            if node.interrupt_at is not None and now >= node.interrupt_at and not node.interrupt_sent:
                node.interrupt_sent = True
                self.reporter.note(f"{node.node_id}: interrupting attempt {node.number} (SIGTERM, as a spot reclaim)")
                self._terminate(node)
            if node.kill_at is not None and now >= node.kill_at:
                node.kill_at = None
                process.send(signal.SIGKILL)

    def _terminate(self, node: Node) -> None:
        assert node.process is not None
        node.process.send(signal.SIGTERM)
        if node.kill_at is None:
            node.kill_at = time.monotonic() + self.kill_grace_s

    def _checkpoint_marker(self, node: Node) -> int:
        """The sequence number of the node's newest committed checkpoint (0: none yet)."""
        keep = node.task.checkpoint.keep if node.task.checkpoint is not None else 1
        latest = self.store.checkpoint(self.run_id, node.node_id, node.number, keep).latest()
        return latest.seq if latest is not None else 0

    @staticmethod
    def _awaiting_checkpoint(node: Node) -> bool:
        """An injected interruption waits for the attempt's first checkpoint commit."""
        return node.interrupt is not None and not node.interrupt_sent and node.checkpoint_marker is not None

    # ------------------------------------------------------------------ signals

    @contextmanager
    def _signal_pipe(self) -> Iterator[int | None]:
        """Ctrl-C and SIGTERM wake the loop (through a pipe) instead of raising mid-bookkeeping."""
        if threading.current_thread() is not threading.main_thread():
            yield None
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

        def handler(signum: int, _frame: object) -> None:
            if self._signalled is not None:  # a second Ctrl-C: no more waiting
                for node in self._running():
                    assert node.process is not None
                    node.process.send(signal.SIGKILL)
            self._signalled = signum

        stops = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGHUP"):  # a closed terminal or ssh session: stop as cleanly as SIGTERM
            stops.append(signal.SIGHUP)
        previous = {sig: signal.signal(sig, handler) for sig in stops}
        previous_fd = signal.set_wakeup_fd(write_fd)
        try:
            yield read_fd
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, old in previous.items():
                signal.signal(sig, old)
            os.close(read_fd)
            os.close(write_fd)

    def _stop_on_signal(self) -> None:
        self._stopping = True
        name = signal.Signals(self._signalled or signal.SIGINT).name
        running = self._running()
        if running:
            self.reporter.note(f"{name}: interrupting running attempts (they flush their checkpoints)")
        self._cancel(running)

    def _cancel(self, running: Sequence[Node]) -> None:
        """Stop attempts because the run stops: "cancelled" is recorded *before* the SIGTERM, so
        the attempt, which reads its journal when the signal comes (entry.py), says it was
        cancelled and runs again on --resume, not that it was interrupted on its own budget."""
        message = self._cancel_message()
        for node in running:
            node.cancelled = True
            try:
                self.store.record_end(self.run_id, node.node_id, node.number, "cancelled", None, {"message": message})
            except StoreError:  # recorded again when it ends; only the attempt's own wording is lost
                pass
            self._terminate(node)

    def _cancel_message(self) -> str:
        if self._lease_lost is not None:
            return f"stopped: {self._lease_lost}; uses no retry budget"
        name = signal.Signals(self._signalled or signal.SIGINT).name
        by = " by the user" if name == "SIGINT" else ""
        return f"the run was cancelled{by} ({name}); it runs again on `tether run --resume {self.run_id}`, uses no retry budget"

    def _beat(self) -> None:
        """Renew the run's lease when due; if another executor took the run over, stop it here."""
        if self.heartbeat is None or time.monotonic() < self._next_beat:
            return
        lost = self.heartbeat()
        self._next_beat = time.monotonic() + self.heartbeat_s
        if lost is None or self._lease_lost is not None:
            return
        self._lease_lost = lost
        self._stopping = True
        self.reporter.note(f"{lost}: stopping this executor's attempts")
        self._cancel(self._running())

    # ------------------------------------------------------------------ values

    def _resolver(self) -> Callable[[Ref], object]:
        """Values of `inputs.X` and `tasks.T.outputs.Y` for `when`, `foreach` and workflow outputs."""

        def resolve(ref: Ref) -> object:
            if ref.root == "inputs":
                if ref.name is None or ref.name not in self.params:
                    raise EvaluationError(f"input '{ref.name}' has no value")
                return self.params[ref.name]
            if ref.root == "tasks":
                group = self._groups.get(ref.task or "")
                if group is None or not group.current_status().succeeded or group.nodes is None:
                    raise EvaluationError(f"tasks.{ref.task} has no outputs (it did not run)")
                values = [(node.outputs or {}).get(ref.name or "") for node in group.nodes]
                return values if group.task.foreach is not None else values[0]
            raise EvaluationError("`item` is only defined inside a foreach task's inputs")

        return resolve

    def _workflow_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for output in self.workflow.outputs:
            read = {r.task for r in refs(output.value) if r.root == "tasks"}
            if any(self._groups[name].current_status() is Status.SKIPPED for name in read if name in self._groups):
                outputs[output.name] = None
                continue
            try:
                outputs[output.name] = evaluate(output.value, self._resolver())
            except EvaluationError as exc:
                self.reporter.note(f"workflow output {output.name}: {exc}")
                outputs[output.name] = None
        return outputs

    # ------------------------------------------------------------------ reporting

    def _status_changed(self) -> None:
        """A node changed state: status.json is written at the next turn of the loop, at most
        every STATUS_EVERY_S (a run of thousands of short nodes must not rewrite it per node)."""
        if self._status_due is None:
            self._status_due = max(time.monotonic(), self._status_written + STATUS_EVERY_S)

    def _write_status(self) -> None:
        """status.json while the run goes on: every node's state, so `tether status` is live."""
        self._status_due = None
        self._status_written = time.monotonic()
        nodes: dict[str, Any] = {}
        for view in self.views():
            entry: dict[str, Any] = {"status": view.status.value, "attempt": view.attempt}
            if view.message:
                entry["message"] = view.message
            nodes[view.node_id] = entry
        status = {"status": "running", "run_id": self.run_id, "nodes": nodes, **self._status_times(None)}
        self.store.write_status(self.run_id, status)

    def _status_times(self, duration_s: float | None) -> dict[str, Any]:
        elapsed = round(time.monotonic() - self._started, 3) if duration_s is None else duration_s
        return {"workflow": self.workflow.name, "started": self._started_utc, "updated": utc_now(), "duration_s": elapsed}

    def _set(self, node: Node, status: Status, message: str) -> None:
        node.status, node.message = status, message
        self._status_changed()
        self.reporter.node_changed(self._view(node))

    def _view(self, node: Node) -> NodeView:
        now = time.monotonic()
        retry_in = max(node.retry_at - now, 0.0) if node.retry_at is not None else None
        running = now - node.started_at if node.process is not None else None
        return NodeView(node.node_id, node.status, node.number, retry_in, node.message, running)

    def views(self) -> list[NodeView]:
        views: list[NodeView] = []
        for group in self._groups.values():
            if not group.nodes:
                views.append(NodeView(group.task.name, group.current_status(), 0, message=group.message))
            else:
                views.extend(self._view(node) for node in group.nodes)
        return views

    def _report(self) -> RunReport:
        nodes: dict[str, NodeReport] = {}
        for group in self._groups.values():
            if not group.nodes:  # never expanded (skipped, stopped), or a foreach over nothing
                nodes[group.task.name] = NodeReport(group.current_status(), (), group.message)
                continue
            for node in group.nodes:
                attempts = tuple(self.store.attempts(self.run_id, node.node_id))
                nodes[node.node_id] = NodeReport(node.status, attempts, node.message, node.cached_from)
        succeeded = all(g.current_status() in (Status.DONE, Status.SKIPPED) for g in self._groups.values())
        if succeeded:
            status, outputs = "succeeded", self._workflow_outputs()
        else:
            status, outputs = ("interrupted" if self._signalled is not None else "failed"), {}
        duration = round(time.monotonic() - self._started, 3)
        return RunReport(self.run_id, status, outputs, nodes, duration, self._signalled)

