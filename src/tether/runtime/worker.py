"""Start one task attempt as its own process, cheaply: fork a pre-imported worker.

Every attempt is a real, separate process that receives real signals, exactly as a pod or a
Batch job would. Paying interpreter start-up and `import tether` per attempt (hundreds of ms,
see bench/runtime_overhead.py) would dwarf a small task, so on POSIX the executor forks
itself: the child already has tether, the run store and the expression parser imported and
warm, and calls `entry.run_attempt` directly.
The executor never imports user code, so every attempt still imports the task's module fresh,
as a new process on a cluster would.

Where fork is unavailable (or `TETHER_LAUNCHER=spawn`), an attempt is a `python -m tether exec`
subprocess instead: slower, same contract.

Each attempt leads its own process group and dies with the executor (see procgroup.py): a
SIGKILL reaches its whole group, and what is left of the group when it exits is SIGKILLed.

The attempt's stdout and stderr go to a local file: the store's log object itself on a local
store (so `tether logs` can follow a running attempt), else a temporary file the executor
uploads when the attempt ends (`Attempt.finish_log`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, NoReturn

from . import procgroup
from .store import RunRecord, RunStore

if TYPE_CHECKING:
    from ..core.ir import Task

LAUNCHER_ENV = "TETHER_LAUNCHER"


@dataclass
class Attempt:
    """A running attempt process. `returncode` follows subprocess: negative = killed by that signal."""

    node_id: str
    number: int
    pid: int
    log_file: str
    upload_log: bool  # the log lives in a temp file and must be copied to the store at the end
    popen: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    secret_task: Task | None = field(default=None, repr=False)  # whose secrets finish_log masks
    pidfd: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.pid)
            except OSError:  # an old kernel: the executor falls back to polling
                self.pidfd = None

    def poll(self) -> int | None:
        """The exit code once the process has ended (and reap it), else None.

        What is left of its process group is SIGKILLed as it ends (before it is reaped, where
        the platform lets us look without reaping): an attempt's processes end with it.
        """
        if self.returncode is not None:
            return self.returncode
        if procgroup.CAN_PEEK:
            if not procgroup.exited(self.pid):
                return None
            procgroup.kill_group(self.pid)
        if self.popen is not None:
            self.returncode = self.popen.poll()
        else:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: all we can say is that it is gone
                self.returncode = -signal.SIGKILL
            else:
                if pid == 0:
                    return None
                self.returncode = os.waitstatus_to_exitcode(status)
        if self.returncode is not None and not procgroup.CAN_PEEK:
            procgroup.kill_group(self.pid)
        if self.returncode is not None and self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return self.returncode

    def send(self, signum: int) -> None:
        """Signal the attempt while it runs. SIGTERM goes to the attempt, which passes it on to its
        group (procgroup.pass_on); SIGKILL goes to the whole group at once, which cannot outlive a kill."""
        if self.returncode is None:
            try:
                if signum == signal.SIGKILL:
                    os.killpg(self.pid, signum)
                else:
                    os.kill(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def finish_log(self, store: RunStore, run_id: str) -> None:
        """Mask the task's secrets in its log (task_env.redact_file), then copy a temporary log
        to the store (object stores); a local log is masked where it is.

        A local log is the store object itself, so `tether logs -f` can follow a running
        attempt: what it shows live is masked only once the attempt has ended.
        """
        from .task_env import declared_secret_values, redact_file

        if self.secret_task is not None:
            redact_file(self.log_file, declared_secret_values(self.secret_task))
        if self.upload_log:
            # Spooled at a fixed place (store.log_spool_path): deleted only once it is in the
            # store, so a failed upload is retried by the next `--resume` (upload_spooled_logs).
            with open(self.log_file, "rb") as handle:
                store.write_log(run_id, self.node_id, self.number, handle.read())
            os.unlink(self.log_file)


def fork_available() -> bool:
    return hasattr(os, "fork") and os.environ.get(LAUNCHER_ENV, "fork") != "spawn"


def preload() -> None:
    """Import what every attempt needs, once, in the process that will fork the attempts.

    Then freeze the garbage collector's view of everything allocated so far: a forked child's
    collections then skip those objects instead of writing to (and so copying) their pages.
    """
    import gc

    from . import checkpoint, entry  # noqa: F401

    procgroup.preload()
    gc.collect()
    gc.freeze()


def _log_target(store: RunStore, run_id: str, node_id: str, number: int) -> tuple[str, bool]:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(store.fs, LocalFileSystem):
        path = store.log_path(run_id, node_id, number)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path, False
    path = store.log_spool_path(run_id, node_id, number)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path, True


def launch(store: RunStore, run_id: str, node_id: str, number: int, record: RunRecord | None = None) -> Attempt:
    """Start attempt `number` of `node_id` in a new process and return at once.

    `record` is the run as `store.load_run(run_id)` returns it; a forked attempt reuses it
    instead of reading and parsing run.json again (it never changes once written).
    """
    log_file, upload = _log_target(store, run_id, node_id, number)
    if fork_available():
        attempt = Attempt(node_id, number, _fork(store, run_id, node_id, number, log_file, record), log_file, upload)
    else:
        attempt = _spawn(store, run_id, node_id, number, log_file, upload)
    attempt.secret_task = _task_with_secrets(store, run_id, node_id, record)
    return attempt


def _task_with_secrets(store: RunStore, run_id: str, node_id: str, record: RunRecord | None) -> Task | None:
    """The node's task when it declares secrets (its log must be masked), else None."""
    from ..core.graph import parse_node_id

    workflow = (record or store.load_run(run_id)).workflow
    task = workflow.task(parse_node_id(node_id)[0])
    return task if task is not None and task.secrets else None


def _fork(store: RunStore, run_id: str, node_id: str, number: int, log_file: str, record: RunRecord | None) -> int:
    for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffer again
        stream.flush()
    executor = os.getpid()
    pid = os.fork()
    if pid == 0:
        _attempt_in_child(store, run_id, node_id, number, log_file, record, executor)
    procgroup.adopt(pid)
    return pid


def _attempt_in_child(
    store: RunStore,
    run_id: str,
    node_id: str,
    number: int,
    log_file: str,
    record: RunRecord | None,
    executor: int,
) -> NoReturn:
    """The forked child: become the attempt, then exit with its code (never return to the loop)."""
    code = 1
    try:
        # The executor's handlers must not run in the attempt: SIGTERM is the attempt's to handle
        # (run_attempt installs the checkpoint-flushing handler); Ctrl-C reaches the executor,
        # which interrupts its attempts with SIGTERM, as a cluster would on shutdown.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        procgroup.lead_group()
        os.environ[procgroup.EXECUTOR_PID_ENV] = str(executor)
        os.environ.pop(procgroup.EXECUTOR_GONE_ENV, None)
        procgroup.die_with(executor)
        _redirect_output(log_file)
        from .entry import run_attempt

        # A fresh store object: never share an fsspec client (its sockets, its event loop) with the parent.
        child_store = ForkedStore(store.uri, store.storage_options)
        if record is not None:
            child_store.preload(run_id, record)
        code = run_attempt(child_store, run_id, node_id, number)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a bug in the runtime itself: say so in the attempt's log
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            procgroup.end_if_orphaned()
        finally:
            os._exit(code)


class ForkedStore(RunStore):
    """An attempt's store in a forked worker: the immutable run record comes from the parent's
    memory instead of being read and parsed from run.json again."""

    _preloaded: tuple[str, RunRecord] | None = None

    def preload(self, run_id: str, record: RunRecord) -> None:
        self._preloaded = (run_id, record)

    def load_run(self, run_id: str) -> RunRecord:
        if self._preloaded is not None and self._preloaded[0] == run_id:
            return self._preloaded[1]
        return super().load_run(run_id)


def _redirect_output(log_file: str) -> None:
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(devnull)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


def exec_command(store_uri: str, run_id: str, node_id: str, number: int | None) -> list[str]:
    """The `tether exec` command line of one attempt (what a cluster runs, and what --dry-run shows)."""
    command = ["tether", "exec", "--store", store_uri, "--run", run_id, "--node", node_id]
    if number is not None:
        command += ["--attempt", str(number)]
    return command


def _spawn(store: RunStore, run_id: str, node_id: str, number: int, log_file: str, upload: bool) -> Attempt:
    argv = [sys.executable, "-m", *exec_command(store.uri, run_id, node_id, number)]
    env = dict(os.environ)
    env[procgroup.EXECUTOR_PID_ENV] = str(os.getpid())  # `tether exec` then dies with us (entry.exec_command)
    env.pop(procgroup.EXECUTOR_GONE_ENV, None)
    if store.storage_options:
        import json

        env["TETHER_STORE_OPTIONS"] = json.dumps(store.storage_options)
    with open(log_file, "wb") as log, _sigint_ignored_by_children():
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, **procgroup.spawn_options()
        )
    return Attempt(node_id, number, popen.pid, log_file, upload, popen=popen)


@contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """Start children with SIGINT ignored (a disposition exec keeps, and Python then leaves alone).

    Ctrl-C is the executor's to handle: it stops the attempts with SIGTERM, as a cluster would.
    Swapping the handler around the spawn avoids `preexec_fn`, which is unsafe with threads
    (an s3fs store runs one).
    """
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
