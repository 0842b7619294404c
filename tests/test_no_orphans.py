"""No orphans: nothing an attempt started outlives its run (issue 10).

Each case starts a real `tether run` whose one task starts a child that would sleep for an hour
(a Python task's `subprocess.Popen(["sleep", ...])`, a container task's shell child), ends the run
the hard way (a timeout, SIGTERM of `tether run`, SIGKILL of the executor alone), and then reads the
process table: every process that descended from `tether run` must be gone. A process is named by
its pid and its start time, so a reused pid is never mistaken for a survivor; a zombie is dead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tether.runtime.store import RunStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table in /proc")

WAIT_S = 30.0  # how long a process may take to go away (never asserted as a duration)
CHILD_S = 3600  # how long the child would sleep: far longer than WAIT_S, so it cannot just end

TASKS = '''
import json
import os
import subprocess


def spawn(pidfile: str) -> int:
    child = subprocess.Popen(["sleep", "CHILD_S"])
    with open(pidfile + ".tmp", "w") as handle:
        json.dump({"attempt": os.getpid(), "child": child.pid}, handle)
    os.rename(pidfile + ".tmp", pidfile)
    child.wait()
    return 0


def leave(pidfile: str) -> int:
    """Returns at once, leaving its child running (as a task that forgets a daemon would)."""
    child = subprocess.Popen(["sleep", "CHILD_S"])
    with open(pidfile + ".tmp", "w") as handle:
        json.dump({"attempt": os.getpid(), "child": child.pid}, handle)
    os.rename(pidfile + ".tmp", pidfile)
    return 0
'''


def _spec(directory: Path, kind: str, timeout: str | None) -> Path:
    """A one-task workflow whose task writes its pids to `pids.json` in `directory`, then waits on
    a child (kind "python" or "container"), or returns at once and leaves it running ("leave")."""
    pidfile = directory / "pids.json"
    if kind in ("python", "leave"):
        (directory / "orphan_tasks.py").write_text(TASKS.replace("CHILD_S", str(CHILD_S)))
        body = [
            f"      python: orphan_tasks:{'spawn' if kind == 'python' else 'leave'}",
            f"      inputs: {{pidfile: {json.dumps(str(pidfile))}}}",
        ]
    else:  # the shell stays the parent of `sleep`, as a wrapper script would
        script = f'sleep {CHILD_S} & echo "{{\\"attempt\\": $$, \\"child\\": $!}}" > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}; wait'
        body = [
            "      container:",
            "        image: busybox",
            f"        command: [sh, -c, {json.dumps(script)}]",
        ]
    lines = [
        "apiVersion: tether/v1",
        "kind: Workflow",
        "metadata: {name: orphans}",
        "spec:",
        "  tasks:",
        "    spawner:",
        *body,
        "      outputs: {result: int}",
        "      retries: 0",
    ]
    if timeout is not None:
        lines.append(f"      timeout: {timeout}")
    spec = directory / "orphans.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


# ---------------------------------------------------------------------- the process table


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a live process, else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> set[tuple[int, int]]:
    """Every live descendant of `root`, as (pid, start time)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] != "Z":
                children.setdefault(stat[0], []).append((int(entry), stat[2]))
    found: set[tuple[int, int]] = set()
    todo = [root]
    while todo:
        for pid, started in children.get(todo.pop(), []):
            found.add((pid, started))
            todo.append(pid)
    return found


def _alive(processes: set[tuple[int, int]]) -> set[tuple[int, int]]:
    alive = set()
    for pid, started in processes:
        stat = _stat(pid)
        if stat is not None and stat[2] == started and stat[1] != "Z":
            alive.add((pid, started))
    return alive


def _wait_all_gone(processes: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The processes still alive after waiting up to WAIT_S for them to go (empty: all gone)."""
    give_up = time.monotonic() + WAIT_S
    while (left := _alive(processes)) and time.monotonic() < give_up:
        time.sleep(0.05)
    return left


def _describe(processes: set[tuple[int, int]]) -> str:
    lines = []
    for pid, _ in sorted(processes):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            command = "(gone)"
        lines.append(f"{pid}: {command}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- running one case


class Case:
    """A `tether run` of the spawner spec, started in its own session so the test can clean up."""

    def __init__(
        self,
        tether_cmd: list[str],
        env: dict[str, str],
        directory: Path,
        kind: str,
        timeout: str | None,
        store: tuple[str, dict[str, Any]] | None = None,
    ):
        self.directory = directory
        self.store_uri, self.store_options = store or (str(directory / "store"), {})
        if self.store_options:
            env = {**env, "TETHER_STORE_OPTIONS": json.dumps(self.store_options)}
        spec = _spec(directory, kind, timeout)
        argv = [*tether_cmd, "run", str(spec), "--store", self.store_uri, "--run-id", "orphans", "--json"]
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        self.seen: set[tuple[int, int]] = set()

    def wait_for_task(self, waits: bool = True) -> dict[str, int]:
        """The task's pids, once it has started its child; snapshots the tree under `tether run`
        (`waits`: the task is still waiting on its child, so both must be in that tree)."""
        pidfile = self.directory / "pids.json"
        give_up = time.monotonic() + WAIT_S
        while not pidfile.exists():
            if self.process.poll() is not None or time.monotonic() > give_up:
                out, err = self.process.communicate()
                raise AssertionError(f"the task never started its child:\n{out}\n{err}")
            time.sleep(0.05)
        pids: dict[str, int] = json.loads(pidfile.read_text())
        self.seen = _descendants(self.process.pid)
        if waits:
            assert {pids["attempt"], pids["child"]} <= {pid for pid, _ in self.seen}, _describe(self.seen)
        return pids

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, err

    def cleanup(self) -> None:
        """Leave no process behind whatever the test found (survivors are SIGKILLed)."""
        for pid, _ in _alive(self.seen | _descendants(self.process.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


Start = Callable[..., Case]


@pytest.fixture
def case(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> Iterator[Start]:
    made: list[Case] = []

    def start(
        kind: str, timeout: str | None = None, launcher: str = "fork", store: tuple[str, dict[str, Any]] | None = None
    ) -> Case:
        env = {**tether_env, "TETHER_LAUNCHER": launcher}
        made.append(Case(tether_cmd, env, tmp_path, kind, timeout, store))
        return made[-1]

    yield start
    for each in made:
        each.cleanup()


def _outcomes(run: Case) -> list[str | None]:
    return [a.outcome for a in RunStore(run.store_uri, dict(run.store_options)).attempts("orphans", "spawner")]


# ---------------------------------------------------------------------- the cases


@pytest.mark.parametrize("kind", ["python", "container"])
def test_a_timed_out_attempt_leaves_no_process_behind(case: Start, kind: str) -> None:
    run = case(kind, timeout="1s")
    run.wait_for_task()
    code, out, err = run.finish()
    assert code == 1, err
    assert json.loads(out)["nodes"]["spawner"]["attempts"][0]["outcome"] == "timeout"
    left = _wait_all_gone(run.seen)
    assert not left, f"still running after the timeout:\n{_describe(left)}"


@pytest.mark.parametrize("kind", ["python", "container"])
def test_sigterm_of_tether_run_leaves_no_process_behind(case: Start, kind: str) -> None:
    run = case(kind)
    run.wait_for_task()
    run.process.send_signal(signal.SIGTERM)
    code, out, err = run.finish()
    assert code != 0, err
    assert json.loads(out)["status"] == "interrupted"
    left = _wait_all_gone(run.seen)
    assert not left, f"still running after SIGTERM of tether run:\n{_describe(left)}"
    assert _outcomes(run) == ["cancelled"]


@pytest.mark.parametrize(
    ("kind", "launcher", "where"),
    [("python", "fork", "local"), ("container", "fork", "local"), ("python", "spawn", "local"), ("python", "fork", "s3")],
)
def test_sigkill_of_the_executor_alone_ends_its_attempts_which_record_cancelled(
    case: Start, kind: str, launcher: str, where: str, request: pytest.FixtureRequest
) -> None:
    # On S3 the executor runs s3fs threads: when it dies, its attempts are first handed to one of
    # them (the same pid), so the death signal, not the parent pid, must tell the attempt.
    store = None
    if where == "s3":
        uri, options = request.getfixturevalue("s3_bucket")
        store = (f"{uri}/store", options)
    run = case(kind, launcher=launcher, store=store)
    pids = run.wait_for_task()
    os.kill(run.process.pid, signal.SIGKILL)  # the executor only: its attempts lead groups of their own
    run.finish()
    left = _wait_all_gone(run.seen)
    assert not left, f"still running after SIGKILL of the executor:\n{_describe(left)}"
    # The attempt knew its executor died (its parent changed): the run's fault, not the task's.
    assert _outcomes(run) == ["cancelled"]
    assert pids["attempt"] != run.process.pid


def test_a_child_left_running_by_a_task_that_succeeded_ends_with_its_attempt(case: Start) -> None:
    # As in a container, whose processes all end when its main process exits.
    run = case("leave")
    pids = run.wait_for_task(waits=False)
    stat = _stat(pids["child"])  # None: already gone with its attempt
    child = {(pids["child"], stat[2])} if stat is not None else set()
    run.seen |= child
    code, out, err = run.finish()
    assert code == 0, err
    assert json.loads(out)["nodes"]["spawner"]["attempts"][0]["outcome"] == "success"
    left = _wait_all_gone(child)
    assert not left, f"still running after its attempt succeeded:\n{_describe(left)}"
