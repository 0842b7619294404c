"""No orphans: every attempt leads its own process group, and nothing of it outlives it or its executor.

A cluster ends a task's processes as a whole: Kubernetes sends SIGTERM, waits the grace period,
then sends "the KILL signal ... to any remaining processes"
(https://kubernetes.io/docs/concepts/workloads/pods/pod-termination/), and AWS Batch sends a
timed-out job's container SIGTERM, then SIGKILL 30 s later
(https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html). Locally the process group
plays the container:

- The attempt leads a new process group (the executor's child, or `tether exec` spawned with
  `process_group=0`); whatever the task starts (a `subprocess.Popen`, a container command's shell
  and its children) joins it.
- The executor sends SIGTERM to the attempt alone; the attempt passes it on to the rest of its
  group (`pass_on`), so the processes it started can flush too. After the grace period the
  executor SIGKILLs the whole group, and when the attempt exits whatever is left of its group is
  SIGKILLed at once: when a container's main process exits, the container ends with it.
- The attempt dies with its executor: PR_SET_PDEATHSIG (Linux, through ctypes) or a thread that
  watches the parent pid (elsewhere) sends it DEATH_SIGNAL when the executor dies; its handler
  notes that (`executor_gone`) and ends the attempt as a SIGTERM would, but recorded as
  "cancelled", as a stopped run is. A distinct signal, because the parent pid alone can lie: when
  a multi-threaded executor dies, its children are first handed to one of its other threads
  (same pid), and the death signal comes then. If the attempt then hangs, its whole group is
  SIGKILLed after `ORPHAN_GRACE_S`, and it SIGKILLs its group as its last act (nobody is left to
  read its exit code).

A process that leaves the group on purpose (`setsid`, `start_new_session=True`) is not followed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

EXECUTOR_PID_ENV = "TETHER_EXECUTOR_PID"
"""Set in an attempt started by the local executor: the pid of that executor, its parent."""

EXECUTOR_GONE_ENV = "TETHER_EXECUTOR_GONE"
"""Set by the DEATH_SIGNAL handler: this attempt's executor died (kept with the process's other
facts about itself, in its environment, rather than in a module global)."""

DEATH_SIGNAL = signal.SIGHUP
"""What the attempt gets when its executor dies: "hangup", the controlling process went away.
Attempts lead their own process groups, so a closed terminal never sends it to them."""

ORPHAN_GRACE_S = 10.0
"""How long an attempt whose executor died may take to end before its group is SIGKILLed
(the executor's own default grace, `executor.KILL_GRACE_S`)."""

PARENT_WATCH_S = 0.5
"""How often the fallback watcher (no PR_SET_PDEATHSIG) looks at the parent pid."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.lru_cache(maxsize=1)
def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, else None. Cached: `worker.preload` loads it once before forking."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return function


def preload() -> None:
    """Load libc now, in the executor, so that no forked attempt pays for it."""
    _prctl()


def lead_group() -> None:
    """Make this process the leader of a new process group (a no-op if it already leads one)."""
    if os.getpgid(0) == os.getpid():
        return
    try:
        os.setpgid(0, 0)
    except PermissionError:  # a session leader already leads its group
        pass


def adopt(pid: int) -> None:
    """The executor's half of `lead_group` for a forked child: whichever of the two runs first,
    the group exists before the executor may signal it."""
    try:
        os.setpgid(pid, pid)
    except OSError:  # the child has already done it (EACCES after exec), or has already exited
        pass


def is_leader() -> bool:
    return os.getpgid(0) == os.getpid()


def spawn_options() -> dict[str, Any]:
    """Popen keyword arguments that start an attempt as the leader of a new process group."""
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"start_new_session": True}  # Python 3.10: setsid(), which also makes a new group


def die_with(executor_pid: int) -> None:
    """Get DEATH_SIGNAL when the executor `executor_pid` (this process's parent) dies, and end
    as a SIGTERM would then. Call it in the main thread, before the task starts.

    PR_SET_PDEATHSIG fires when the parent *thread* that forked us exits; the executor forks from
    its main thread (https://man7.org/linux/man-pages/man2/pr_set_pdeathsig.2const.html). Without
    it (not Linux), a daemon thread watches the parent pid. Either way, a parent that died before
    this call is noticed here and the signal is sent at once.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(DEATH_SIGNAL, _on_executor_death)
    prctl = _prctl()
    if prctl is None or prctl(_PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0) != 0:
        threading.Thread(target=_watch_parent, args=(executor_pid,), name="tether-parent-watch", daemon=True).start()
    if os.getppid() != executor_pid:  # it died before the death signal was armed
        os.kill(os.getpid(), DEATH_SIGNAL)


def _on_executor_death(signum: int, frame: object) -> None:
    """The executor died: note it, then terminate this attempt through its own SIGTERM handler
    (which runs as soon as this one returns, and records "cancelled", see entry.py)."""
    os.environ[EXECUTOR_GONE_ENV] = "1"
    os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(executor_pid: int) -> None:
    while os.getppid() == executor_pid:
        time.sleep(PARENT_WATCH_S)
    os.kill(os.getpid(), DEATH_SIGNAL)


def executor_pid() -> int | None:
    """The pid of the local executor that started this attempt (None on a cluster)."""
    text = os.environ.get(EXECUTOR_PID_ENV, "")
    return int(text) if text.isdigit() else None


def executor_gone() -> bool:
    """True when a local executor started this attempt and has died (its death signal came, or
    it is no longer this process's parent)."""
    parent = executor_pid()
    if parent is None:
        return False
    return os.environ.get(EXECUTOR_GONE_ENV) == "1" or os.getppid() != parent


def pass_on(signum: int) -> bool:
    """Send `signum` to every other process of the group this process leads; False if it leads none.

    Called from the attempt's SIGTERM handler: the signal is ignored here for the instant it is
    sent to the group, so the attempt does not signal itself. On a cluster `tether exec` may share
    a group with the shell that started it; it then leads no group and signals nobody.
    """
    if not is_leader():
        return False
    previous = signal.signal(signum, signal.SIG_IGN)
    try:
        os.killpg(os.getpid(), signum)
    except OSError:
        pass
    finally:
        signal.signal(signum, previous)
    return True


def terminating() -> None:
    """This attempt got SIGTERM: pass it on to its group; if its executor is gone, make sure the
    group ends within ORPHAN_GRACE_S even if the attempt hangs (there is no executor to kill it)."""
    pass_on(signal.SIGTERM)
    if executor_gone() and is_leader():
        timer = threading.Timer(ORPHAN_GRACE_S, kill_group, args=(os.getpid(),))
        timer.daemon = True
        timer.start()


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group `pgid` (nothing happens if the group is already empty)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def end_if_orphaned() -> None:
    """An attempt's last act: if its executor died, SIGKILL what is left of its group, itself
    included (its exit code has no reader). Flushes stdout and stderr first."""
    if not (executor_gone() and is_leader()):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    kill_group(os.getpid())


CAN_PEEK = hasattr(os, "waitid")
"""Whether `exited` can look at a child without reaping it (else: reap, then kill what is left)."""


def exited(pid: int) -> bool:
    """Whether child `pid` has exited, without reaping it: while its zombie holds the pid, its
    group id cannot be reused, so `kill_group(pid)` reaches only what is left of that attempt."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None
