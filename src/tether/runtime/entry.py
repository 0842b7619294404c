"""`tether exec`: one task attempt, the entrypoint every backend runs (pod, Batch job, local process).

An attempt loads the run from the store, resolves its inputs, records its start in the journal,
runs the task (a Python function, or a container command), checks and writes its outputs,
records its end, and exits with the code the platform retries on:

    0    success: outputs written (last), journal says "success"
    75   tether.RecoverableError, and the retry budget has room: retry me
    143  SIGTERM (spot reclaim, eviction, --interrupt): the checkpoint is flushed, "interrupted"
    1    anything else, or a recoverable failure with the retry budget spent: never retry
    2    usage: no such run, node or attempt (nothing is recorded)
    74   the run store failed (EX_IOERR): the message names the store; no budget is charged

Budgets are judged from the journal (see tether.runtime.outcome), so Argo, AWS Batch and the
local executor retry by the same rule. Only tether.RecoverableError is recoverable: a bug fails
fast instead of burning compute `retries` times.

SIGTERM: for a Python task, the handler raises a private BaseException in the main thread, so the
task's `finally` blocks and context managers run, and the attempt is recorded as "interrupted".
Checkpoint writes are synchronous and atomic, so everything written before the signal is kept,
and a write the signal cuts short leaves only an uncommitted temporary. For a container task the
signal is forwarded to the command (see tether.runtime.container). Once the task has returned,
a SIGTERM no longer interrupts: the outputs are written and the attempt ends as it would have.

Logs: an attempt writes to its own stdout and stderr and never copies them anywhere. Whoever owns
the process's file descriptors keeps the log: the local executor points them at the store's log
object (`RunStore.log_uri`), Argo and AWS Batch keep container logs as they always do. Why an
attempt failed is printed to stderr as the user's traceback (tether's own frames removed) and one
line: `tether: attempt 2 of use-checkpoint failed: RecoverableError: ... (will retry: ...)`.

`run_attempt` is the in-process form, for a worker process forked per attempt.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from ..errors import RecoverableError
from . import procgroup
from .inputs import InputError, ValueResolver, parse_node_id, resolve_item, resolve_task_inputs
from .outcome import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_RECOVERABLE, EXIT_SUCCESS, EXIT_USAGE, Budget
from .outputs import OutputError, outputs_from_return, validate_outputs
from .store import InvalidRunId, RunNotFound, StoreError
from .task_env import SecretNotFound, redact, task_environment, withheld_variables

if TYPE_CHECKING:
    from ..core.ir import Task
    from .checkpoint import Checkpoint
    from .store import RunRecord, RunStore


EXIT_STORE_FAILURE = 74  # EX_IOERR
"""The run store failed mid-attempt (no space, no permission, an endpoint gone): the attempt's end
may be unrecorded, and nothing is charged to the task; the local executor fails the run."""


class _Interrupted(BaseException):
    """Raised in the main thread by SIGTERM; a BaseException so `except Exception` in user code
    does not swallow it."""


class _Interruption:
    """The attempt's SIGTERM handler: raises _Interrupted while armed (the task is running).

    Disarmed (the task has returned or raised), a SIGTERM is ignored: what is left is a few
    small writes recording the outcome, and the process exits right after them.
    """

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, signum: int, frame: object) -> None:
        procgroup.terminating()  # the processes the task started get it too (see procgroup.py)
        if self.armed:
            self.armed = False
            raise _Interrupted

    @contextmanager
    def installed(self) -> Iterator["_Interruption"]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach only the main thread; the caller owns them there
            return
        previous = signal.signal(signal.SIGTERM, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class _Ending:
    outcome: str
    exit_code: int  # what the attempt process exits with (what a platform retries on)
    message: str
    recorded_code: int | None = None  # the journal's exit code when not exit_code: a command's own

    @property
    def journal_code(self) -> int:
        return self.exit_code if self.recorded_code is None else self.recorded_code


def resolve_attempt_number(store: "RunStore", run_id: str, node_id: str, given: int | None) -> int:
    """--attempt (or --retries + 1), else TETHER_ATTEMPT, else AWS_BATCH_JOB_ATTEMPT, else one
    past the journal.

    Argo passes `--retries {{retries}}` (0-based, it cannot add one); AWS Batch sets
    AWS_BATCH_JOB_ATTEMPT (1-based):
    https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
    """
    if given is not None:
        return given
    for variable in ("TETHER_ATTEMPT", "AWS_BATCH_JOB_ATTEMPT"):
        text = os.environ.get(variable, "").strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                raise ValueError(f"{variable}={text!r} is not an attempt number (1, 2, ...)")
            return int(text)
    attempts = store.attempts(run_id, node_id)
    return (attempts[-1].number if attempts else 0) + 1


def run_attempt(
    store: "RunStore", run_id: str, node_id: str, attempt: int | None = None, outputs_dir: str | None = None
) -> int:
    """Run one attempt of `node_id` and return its exit code (see the module docstring).

    Installs its own SIGTERM handler (restored on return), so it is safe to call in a freshly
    forked child; never raises for anything the task does.
    """
    try:
        return _run_attempt(store, run_id, node_id, attempt, outputs_dir)
    except InvalidRunId as exc:
        return _usage_error(str(exc))
    except StoreError as exc:  # the store failed (or holds a damaged run.json): not the task's doing
        try:
            print(f"tether exec: error: {exc}", file=sys.stderr, flush=True)
        except OSError:  # stderr is a log on the very disk that is full
            pass
        return EXIT_STORE_FAILURE


def _run_attempt(
    store: "RunStore", run_id: str, node_id: str, attempt: int | None, outputs_dir: str | None
) -> int:
    try:
        record = store.load_run(run_id)
    except RunNotFound as exc:
        return _usage_error(str(exc))
    try:
        task_name, index = parse_node_id(node_id)
    except ValueError as exc:
        return _usage_error(str(exc))
    task = record.workflow.task(task_name)
    if task is None:
        names = ", ".join(t.name for t in record.workflow.tasks)
        return _usage_error(f"run {run_id} has no task {task_name!r} (its tasks: {names})")
    try:
        number = resolve_attempt_number(store, run_id, node_id, attempt)
    except ValueError as exc:
        return _usage_error(str(exc))
    if number < 1:
        return _usage_error(f"attempt numbers start at 1, got {number}")
    values = ValueResolver(store, run_id, record.workflow, record.params)
    withheld = withheld_variables(record.workflow, task)
    return _Attempt(store, values, run_id, node_id, task, index, number, record.code_paths, None, outputs_dir, withheld).run()


def _usage_error(message: str) -> int:
    print(f"tether exec: error: {message}", file=sys.stderr)
    return EXIT_USAGE


class _Attempt:
    """One attempt of one node: everything `run_attempt` needs, and the steps in order."""

    def __init__(
        self,
        store: "RunStore",
        values: ValueResolver,
        run_id: str,
        node_id: str,
        task: "Task",
        index: int | None,
        number: int,
        code_paths: tuple[str, ...] = (),
        given: Mapping[str, Any] | None = None,
        outputs_dir: str | None = None,
        withheld: frozenset[str] = frozenset(),
        outputs_escape: str | None = None,
    ):
        self.store = store
        self.withheld = withheld  # other tasks' secret variables, removed while this one runs
        self.values = values
        self.code_paths = code_paths
        self.given = given  # input values the engine passed (--input), decoded
        self.outputs_dir = outputs_dir  # also write each output here as engine text (--outputs-dir)
        self.outputs_escape = outputs_escape  # how those files are escaped (--outputs-escape)
        self.run_id = run_id
        self.node_id = node_id
        self.task = task
        self.index = index
        self.number = number
        self.started = time.monotonic()
        self.interruption = _Interruption()
        self.checkpoint: Checkpoint | None = None
        self.secrets: tuple[str, ...] = ()  # values to mask in anything tether writes

    def run(self) -> int:
        done = self.store.read_outputs(self.run_id, self.node_id)
        if done is not None:
            if self.outputs_dir is not None:  # the engine retried a pod that died after finishing
                from .cluster import write_output_files

                write_output_files(self.outputs_dir, self.task, done, self.outputs_escape)
            print(f"tether: {self.node_id} already succeeded in run {self.run_id}; nothing to do", file=sys.stderr)
            return EXIT_SUCCESS
        with self.interruption.installed():
            self.interruption.armed = True
            try:
                ending = self._run_recorded()
            except _Interrupted:
                ending = self._interrupted()
            finally:
                self.interruption.armed = False
            self._finish(ending)
        return ending.exit_code

    def _run_recorded(self) -> _Ending:
        budget = Budget.from_journal(self.task, self.store.attempts(self.run_id, self.node_id), self.number)
        self.store.record_start(
            self.run_id,
            self.node_id,
            self.number,
            {"pid": os.getpid(), "host": socket.gethostname(), "kind": self.task.kind},
        )
        refusal = budget.overdrawn()
        if refusal is not None:
            return self._fatal(f"not started: {refusal}")
        keep = self.task.checkpoint.keep if self.task.checkpoint is not None else _default_keep()
        self.checkpoint = self.store.checkpoint(self.run_id, self.node_id, self.number, keep)
        try:
            resolver = self.values
            has_item, item = resolve_item(resolver, self.task, self.index)
            env = task_environment(self.task, self.run_id, self.node_id, self.number)
            self.secrets = tuple(env[secret.env] for secret in self.task.secrets)
        except (InputError, SecretNotFound) as exc:
            return self._fatal(str(exc))
        try:
            with _withheld(self.withheld):
                if self.task.container is not None:
                    return self._run_container(resolver, has_item, item, env, budget)
                inputs = resolve_task_inputs(resolver, self.task, has_item, item, self.given)
                return self._run_python(inputs, env, budget)
        except InputError as exc:
            return self._fatal(str(exc))

    # ------------------------------------------------------------------ python

    def _run_python(self, inputs: Mapping[str, Any], env: Mapping[str, str], budget: Budget) -> _Ending:
        from .context import TaskContext, task_context

        assert self.checkpoint is not None
        try:
            function = _import_task(self.task.python or "", self.code_paths)
        except Exception as exc:  # an ImportError, or anything the module raises at import
            self._print_user_traceback(exc)
            return self._fatal(f"cannot import {self.task.python}: {type(exc).__name__}: {exc}")
        context = TaskContext(self.checkpoint, self.number, self.run_id, self.node_id)
        try:
            with _environment(env), task_context(context):
                try:
                    value = function(**inputs)
                finally:
                    self.interruption.armed = False  # from here on a SIGTERM waits for the bookkeeping
        except RecoverableError as exc:
            self._print_user_traceback(exc)
            return self._recoverable(f"{type(exc).__name__}: {exc}", budget)
        except Exception as exc:
            self._print_user_traceback(exc)
            return self._fatal(f"{type(exc).__name__}: {exc}", "only tether.RecoverableError is retried")
        except SystemExit as exc:  # a task that exits has not returned its outputs
            return self._fatal(f"the task called sys.exit({exc.code!r}) instead of returning")
        except KeyboardInterrupt:  # Ctrl-C on a `tether exec` in a terminal: stopped, like SIGTERM
            return self._interrupted()
        try:
            outputs = validate_outputs(self.task, outputs_from_return(self.task, value))
        except OutputError as exc:
            return self._fatal(str(exc))
        return self._success(outputs)

    # ------------------------------------------------------------------ container

    def _run_container(
        self, resolver: ValueResolver, has_item: bool, item: Any, env: Mapping[str, str], budget: Budget
    ) -> _Ending:
        from .container import CommandError, command_line, run_command

        assert self.checkpoint is not None
        argv = command_line(self.task, resolver, has_item, item)
        # Armed until the command starts (a SIGTERM during the restore ends the attempt at once);
        # while it runs, run_command's own handler forwards SIGTERM to it instead.
        try:
            result = run_command(self.task, argv, env, self.checkpoint)
        except CommandError as exc:
            return self._fatal(str(exc))
        finally:
            self.interruption.armed = False
        if result.terminated or result.returncode in (EXIT_INTERRUPTED, -signal.SIGTERM):
            return self._interrupted()
        if result.returncode == EXIT_RECOVERABLE:
            return self._recoverable(f"the command exited {EXIT_RECOVERABLE} (recoverable)", budget)
        if result.returncode != 0:
            ending = self._fatal(f"the command {_describe_exit(result.returncode)}", f"only exit {EXIT_RECOVERABLE} is retried")
            # The journal keeps the command's own code (exit 3, 137 for SIGKILL), so the run
            # reports "fatal (exit 3)", not the 1 that `tether exec` exits with.
            own = result.returncode if result.returncode > 0 else 128 - result.returncode
            return _Ending(ending.outcome, ending.exit_code, ending.message, own)
        if result.outputs is None:
            return self._fatal(result.output_error or "the command wrote no outputs")
        try:
            outputs = validate_outputs(self.task, result.outputs)
        except OutputError as exc:
            return self._fatal(str(exc))
        return self._success(outputs)

    # ------------------------------------------------------------------ endings

    def _success(self, outputs: Mapping[str, Any]) -> _Ending:
        if self.outputs_dir is not None:  # before the store: outputs.json is the node's "done"
            from .cluster import write_output_files

            try:
                write_output_files(self.outputs_dir, self.task, outputs, self.outputs_escape)
            except (OSError, ValueError) as exc:
                return self._fatal(f"cannot write the outputs to {self.outputs_dir}: {exc}")
        self.store.write_outputs(self.run_id, self.node_id, outputs)
        return _Ending("success", EXIT_SUCCESS, "")

    def _recoverable(self, message: str, budget: Budget) -> _Ending:
        may_retry, note = budget.after_recoverable()
        if may_retry:
            return _Ending("recoverable", EXIT_RECOVERABLE, f"{message} ({note})")
        # Still a recoverable failure (so recorded), but exit 1: no platform may retry it.
        return _Ending("recoverable", EXIT_FATAL, f"{message} ({note})")

    def _fatal(self, message: str, note: str = "") -> _Ending:
        return _Ending("fatal", EXIT_FATAL, f"{message} ({note})" if note else message)

    def _interrupted(self) -> _Ending:
        self.interruption.armed = False
        if procgroup.executor_gone():  # its death signal came: the local run died, not this task's machine
            parent = procgroup.executor_pid()
            return _Ending(
                "cancelled",
                EXIT_INTERRUPTED,
                f"stopped with its run: its executor (pid {parent}) died; uses no retry budget",
            )
        attempts = self.store.attempts(self.run_id, self.node_id)
        mine = next((a for a in attempts if a.number == self.number), None)
        if mine is not None and mine.outcome == "cancelled":  # the local executor stops its run (executor._cancel)
            return _Ending("cancelled", EXIT_INTERRUPTED, f"{mine.message or 'cancelled with its run'}; checkpoint kept")
        budget = Budget.from_journal(self.task, attempts, self.number)
        if self._at_timeout():
            # The platform's deadline, not a reclaim: a timeout uses the retry budget (retry.py).
            _, note = budget.after_recoverable()
            return _Ending("timeout", EXIT_INTERRUPTED, f"timed out after {self.task.timeout_s:g}s; checkpoint kept ({note})")
        note = budget.after_interruption()
        return _Ending("interrupted", EXIT_INTERRUPTED, f"terminated by SIGTERM; checkpoint kept ({note})")

    def _at_timeout(self) -> bool:
        """A SIGTERM that arrives when the task's timeout is up is that timeout (the local
        executor's, Argo's activeDeadlineSeconds, Batch's attemptDurationSeconds), allowing for
        the moments between the platform starting its clock and this process starting ours."""
        limit = self.task.timeout_s
        if not limit:
            return False
        return time.monotonic() - self.started >= limit - min(1.0, limit * 0.1)

    def _finish(self, ending: _Ending) -> None:
        """Record the end (never with a secret in it) and say why on stderr when it failed."""
        message = redact(ending.message, self.secrets)
        info = {
            "duration_s": round(time.monotonic() - self.started, 3),
            "message": message,
            "checkpoint_seq": _checkpoint_seq(self.checkpoint),
        }
        self.store.record_end(self.run_id, self.node_id, self.number, ending.outcome, ending.journal_code, info)
        if ending.outcome == "interrupted":
            print(f"tether: attempt {self.number} of {self.node_id} interrupted: {message}", file=sys.stderr)
        elif ending.outcome == "cancelled":
            print(f"tether: attempt {self.number} of {self.node_id} cancelled: {message}", file=sys.stderr)
        elif ending.outcome == "timeout":
            print(f"tether: attempt {self.number} of {self.node_id} {message}", file=sys.stderr)
        elif ending.outcome != "success":
            print(f"tether: attempt {self.number} of {self.node_id} failed: {message}", file=sys.stderr)
        sys.stderr.flush()

    def _print_user_traceback(self, exc: BaseException) -> None:
        """The traceback from the user's first frame on (tether's frames above it are noise),
        with secret values masked."""
        tb: TracebackType | None = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_TETHER_DIR + os.sep):
            tb = tb.tb_next
        lines = traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
        sys.stderr.write(redact("".join(lines), self.secrets))


def _describe_exit(returncode: int) -> str:
    """`exited 3`, or `was killed by SIGKILL` for subprocess's negative codes."""
    if returncode >= 0:
        return f"exited {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def _default_keep() -> int:
    from ..core.ir import DEFAULT_CHECKPOINT_KEEP

    return DEFAULT_CHECKPOINT_KEEP


def _checkpoint_seq(checkpoint: "Checkpoint | None") -> int | None:
    """The sequence number of the newest committed checkpoint, for the journal."""
    if checkpoint is None:
        return None
    latest = checkpoint.latest()
    return None if latest is None else latest.seq


def _import_task(ref: str, code_paths: tuple[str, ...]) -> Callable[..., Any]:
    """`module:function` -> the plain function (a decorated task's `__wrapped__`)."""
    module_name, _, attribute = ref.partition(":")
    for path in reversed(code_paths):  # first on sys.path, so the spec's own modules win
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    function: Callable[..., Any] = getattr(obj, "__wrapped__", obj)
    return function


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set the task's variables for the call and put the old values back afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _withheld(names: Iterable[str]) -> Iterator[None]:
    """Remove other tasks' secret variables (inherited from whoever started the run) for the
    call: a task gets only the secrets it declares. Put back afterwards."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


_TETHER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exec_command(store_uri: str, run_id: str, node_id: str, attempt: int | None, outputs_dir: str | None = None) -> int:
    """The body of `tether exec`: open the store and run the attempt."""
    from .store import RunStore

    try:
        store = RunStore(store_uri)
    except (StoreError, ValueError, ImportError) as exc:
        return _usage_error(f"cannot open the run store {store_uri}: {exc}")
    executor = procgroup.executor_pid()
    if executor is not None and os.getppid() != executor:
        # Not spawned by that executor (a `tether exec` that a task started inherited the
        # variable), or it died while we started: run unguarded, as on a cluster.
        os.environ.pop(procgroup.EXECUTOR_PID_ENV, None)
        executor = None
    if executor is None:  # on a cluster: the pod or job is the unit that ends as a whole
        return run_attempt(store, run_id, node_id, attempt, outputs_dir)
    # Spawned by the local executor (TETHER_LAUNCHER=spawn) as the leader of a process group.
    procgroup.die_with(executor)
    try:
        return run_attempt(store, run_id, node_id, attempt, outputs_dir)
    finally:
        procgroup.end_if_orphaned()
