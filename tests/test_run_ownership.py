"""One orchestrator per run, and an orchestrator's death is no task's failure.

- SIGKILL of the whole `tether run`, then `--resume`, completes a `retries: 0` task from its
  checkpoint: the lost attempt is recorded as cancelled, using neither budget.
- SIGHUP stops a run as SIGTERM does (attempts cancelled, exit 129), and it resumes.
- The lease: a live run's `--resume` is refused naming the holder (host, pid, since); a stale
  lease (its process gone, its heartbeat expired) is taken over and the run says so; of two
  resumes at once exactly one runs; of two `tether run --run-id X` at once exactly one runs.

Every case runs on a local store and on moto's S3 server. The task waits at a gate file after
its first checkpoint, so no assertion depends on timing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_helpers import tether
from runtime_helpers import RUN_SPECS, wait_for_checkpoint
from tether.runtime.lease import Holder, LeaseHeld, acquire
from tether.runtime.store import RunExists, RunRecord, RunStore

TASKS = '''
import os
import time

import tether


def train(steps: int, gate: str) -> dict:
    """Commit checkpoint 1, then wait for the gate file; later attempts run straight through."""
    cp = tether.current_context().checkpoint
    prev = cp.read()
    start = int(prev.decode()) if prev else 0
    for step in range(start, steps):
        cp.write(str(step + 1).encode())
        while not os.path.exists(gate):
            time.sleep(0.02)
    return {"result": steps, "resumed_from": start}
'''

SPEC = """
apiVersion: tether/v1
kind: Workflow
metadata: {name: owned}
spec:
  inputs:
    gate: {type: str}
  tasks:
    train:
      python: owned_tasks:train
      inputs: {steps: 5, gate: "${{ inputs.gate }}"}
      outputs: {result: int, resumed_from: int}
      retries: 0
      checkpoint: {keep: 2}
  outputs:
    result: ${{ tasks.train.outputs.result }}
    resumed_from: ${{ tasks.train.outputs.resumed_from }}
"""


class Where:
    """A run store (a directory, or a bucket on the moto server) and how the CLI reaches it."""

    def __init__(self, uri: str, options: dict[str, Any], env: dict[str, str], tmp: Path):
        self.uri, self.options, self.env = uri, options, env
        self.gate = tmp / "gate"
        self.spec = tmp / "owned.yaml"
        (tmp / "owned_tasks.py").write_text(TASKS)
        self.spec.write_text(SPEC)

    def store(self) -> RunStore:
        return RunStore(self.uri, dict(self.options))

    def argv(self, tether_cmd: list[str], *args: str) -> list[str]:
        return [*tether_cmd, *args, "--store", self.uri]

    def start(self, tether_cmd: list[str], run_id: str) -> subprocess.Popen[str]:
        """`tether run` in its own session (one killpg reaches it and every attempt)."""
        argv = self.argv(tether_cmd, "run", str(self.spec), "--run-id", run_id, "-p", f"gate={self.gate}", "--json")
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def resume(self, tether_cmd: list[str], run_id: str) -> subprocess.Popen[str]:
        argv = self.argv(tether_cmd, "run", "--resume", run_id, "--json")
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest, tmp_path: Path, tether_env: dict[str, str]) -> Iterator[Where]:
    if request.param == "local":
        yield Where(str(tmp_path / "store"), {}, tether_env, tmp_path)
        return
    uri, options = request.getfixturevalue("s3_bucket")
    env = {**tether_env, "TETHER_STORE_OPTIONS": json.dumps(options)}
    yield Where(f"{uri}/store", options, env, tmp_path)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_sigkill_of_the_whole_run_then_resume_completes_a_retries_0_task(where: Where, tether_cmd: list[str]) -> None:
    run = where.start(tether_cmd, "k1")
    wait_for_checkpoint(where.store(), "k1", "train")
    # Everything dies at once, with no chance to record anything: the executor is frozen first (so
    # it cannot see its attempt die), then the attempt's own process group (it leads one) is
    # killed, then the executor. The lost attempt has a start and no end in the journal.
    store = where.store()
    start = json.loads(store.fs.cat_file(f"{store.node_dir('k1', 'train')}/journal/0001-start.json"))
    os.kill(run.pid, signal.SIGSTOP)
    os.killpg(start["pid"], signal.SIGKILL)
    os.killpg(run.pid, signal.SIGKILL)
    assert _finish(run)[0] == -signal.SIGKILL
    (lost,) = store.attempts("k1", "train")
    assert lost.outcome is None
    where.gate.touch()

    code, out, err = _finish(where.resume(tether_cmd, "k1"))
    assert code == 0, err
    assert "Traceback" not in err
    assert f"took over the run's lease from host {socket.gethostname()}, pid {run.pid}" in err
    assert "its process is gone" in err
    result = json.loads(out)
    assert result["outputs"] == {"result": 5, "resumed_from": 1}  # from the killed attempt's checkpoint
    train = result["nodes"]["train"]["attempts"]
    assert [(a["number"], a["outcome"]) for a in train] == [(1, "cancelled"), (2, "success")]
    # The killed attempt's log was never abandoned: on an object store it waited in the local
    # spool, and the resume uploaded it.
    assert store.read_log("k1", "train", 1) is not None

    again = _finish(where.resume(tether_cmd, "k1"))  # a released lease is no takeover
    assert again[0] == 0 and "took over" not in again[2]


def test_sighup_stops_the_run_like_sigterm_and_it_resumes(where: Where, tether_cmd: list[str]) -> None:
    run = where.start(tether_cmd, "h1")
    wait_for_checkpoint(where.store(), "h1", "train")
    run.send_signal(signal.SIGHUP)  # a closed terminal or ssh session
    code, _, err = _finish(run)
    assert code == 128 + signal.SIGHUP, err
    assert "SIGHUP: interrupting running attempts" in err
    (attempt,) = where.store().attempts("h1", "train")
    assert attempt.outcome == "cancelled"
    where.gate.touch()
    code, out, err = _finish(where.resume(tether_cmd, "h1"))
    assert code == 0, err
    assert json.loads(out)["outputs"]["resumed_from"] == 1


def test_a_live_run_is_never_resumed_and_of_two_resumes_one_runs(where: Where, tether_cmd: list[str]) -> None:
    run = where.start(tether_cmd, "live")
    wait_for_checkpoint(where.store(), "live", "train")
    code, _, err = _finish(where.resume(tether_cmd, "live"))
    assert code == 1
    assert "run 'live' is already being run by" in err
    assert f"host {socket.gethostname()}, pid {run.pid}, since 20" in err and "Traceback" not in err
    (attempt,) = where.store().attempts("live", "train")
    assert attempt.outcome is None  # the live attempt was left alone, not recorded as lost

    run.terminate()  # Ctrl-C's twin: the attempt is cancelled, the lease released
    assert _finish(run)[0] == 128 + signal.SIGTERM
    pair = [where.resume(tether_cmd, "live"), where.resume(tether_cmd, "live")]
    loser = _first_to_end(pair)  # the gate is closed: the winner waits at it, the loser is refused
    code, _, err = _finish(loser)
    assert code == 1 and "already being run by" in err, err
    where.gate.touch()
    code, out, err = _finish(next(p for p in pair if p is not loser))
    assert code == 0, err
    train = json.loads(out)["nodes"]["train"]["attempts"]
    assert [a["outcome"] for a in train] == ["cancelled", "success"]  # one resume ran: one new attempt


def _first_to_end(processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        for process in processes:
            if process.poll() is not None:
                return process
        time.sleep(0.05)
    raise AssertionError("neither process ended")


# ---------------------------------------------------------------------- the lease itself


def test_an_object_store_lease_expires_is_taken_over_and_its_old_holder_learns_it(s3_bucket: tuple[str, dict]) -> None:
    uri, options = s3_bucket
    store = RunStore(f"{uri}/lease", dict(options))
    path = f"{store.run_path('r')}/lease/000001.json"
    live = Holder("elsewhere", 4242, "2030-01-01T00:00:00.000Z", _now(), 60.0, 1)
    store.fs.pipe_file(path, json.dumps(live.to_json()).encode())
    with pytest.raises(LeaseHeld, match=r"host elsewhere, pid 4242, since 2030-01-01T00:00:00.000Z \(last heartbeat"):
        acquire(store, "r")

    expired = Holder("elsewhere", 4242, "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:30.000Z", 60.0, 1)
    store.fs.pipe_file(path, json.dumps(expired.to_json()).encode())
    lease = acquire(store, "r")
    assert lease.holder.generation == 2 and lease.holder.pid == os.getpid()
    assert lease.taken_over is not None
    assert lease.taken_over[0].host == "elsewhere" and "heartbeat expired" in lease.taken_over[1]
    assert lease.renew_every_s == 15.0
    assert lease.heartbeat() is None
    with pytest.raises(LeaseHeld, match=f"pid {os.getpid()}"):  # held by a live process here: this one
        acquire(store, "r")

    # Another executor took generation 3 (as it may once this one's heartbeat has expired).
    thief = Holder("other", 7, _now(), _now(), 60.0, 3)
    store.fs.pipe_file(f"{store.run_path('r')}/lease/000003.json", json.dumps(thief.to_json()).encode())
    lost = lease.heartbeat()
    assert lost is not None and "taken over by host other, pid 7" in lost
    lease.release()  # never touches the thief's lease
    assert Holder.parse(store.fs.cat_file(f"{store.run_path('r')}/lease/000003.json")) == thief


def test_a_released_object_store_lease_is_taken_without_a_takeover(s3_bucket: tuple[str, dict]) -> None:
    uri, options = s3_bucket
    store = RunStore(f"{uri}/lease", dict(options))
    with acquire(store, "r") as first:
        assert first.taken_over is None
    second = acquire(store, "r")
    assert second.taken_over is None and second.holder.generation == 2
    second.release()


HOLD = """
import sys
from tether.runtime.lease import acquire
from tether.runtime.store import RunStore
lease = acquire(RunStore(sys.argv[1]), "held")
print("held", flush=True)
sys.stdin.read()
lease.release()
"""


def test_a_local_lease_is_an_os_lock_that_dies_with_its_process(tmp_path: Path, tether_env: dict[str, str]) -> None:
    store = RunStore(str(tmp_path))
    argv = [sys.executable, "-c", HOLD, str(tmp_path)]
    for ending in ("released", "killed"):
        holder = subprocess.Popen(argv, env=tether_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LeaseHeld, match=f"host {socket.gethostname()}, pid {holder.pid}, since 20"):
            acquire(store, "held")
        if ending == "released":
            holder.communicate("")
        else:
            holder.kill()
            holder.communicate()
        with acquire(store, "held") as lease:
            assert lease.renew_every_s is None  # the kernel keeps an OS lock: no heartbeat
            if ending == "released":
                assert lease.taken_over is None
            else:
                assert lease.taken_over is not None and lease.taken_over[0].pid == holder.pid
                assert lease.taken_over[1] == "its process is gone"


# ---------------------------------------------------------------------- creating a run never overwrites


def _racer(uri: str, options: dict[str, Any], barrier: Any, rounds: int, results: Any, who: int) -> None:
    from tether.core.ir import Workflow

    store = RunStore(uri, options)
    record = RunRecord(Workflow(name=f"w{who}", tasks=()), {"who": who}, f"spec-{who}")
    for i in range(rounds):
        barrier.wait()
        try:
            store.create_run(f"race-{i}", record)
            results.put((i, who))
        except RunExists:
            pass


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_of_two_concurrent_creates_of_one_run_exactly_one_wins_20_times(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        uri, options = str(tmp_path / "store"), {}
    else:
        bucket, options = request.getfixturevalue("s3_bucket")
        uri = f"{bucket}/store"
    rounds = 20
    context = multiprocessing.get_context("spawn")  # no fork of a process running s3fs's thread
    barrier, results = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_racer, args=(uri, options, barrier, rounds, results, who)) for who in (1, 2)]
    for process in racers:
        process.start()
    winners = [results.get(timeout=120) for _ in range(rounds)]
    for process in racers:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert results.empty()
    assert sorted(i for i, _ in winners) == list(range(rounds))  # exactly one winner per round
    store = RunStore(uri, options)
    for i, who in winners:  # and the record is the winner's, whole
        assert store.load_run(f"race-{i}").params == {"who": who}


def test_two_tether_runs_with_one_id_never_both_run(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    for i in range(5):
        argv = [*tether_cmd, "run", str(RUN_SPECS / "flaky.yaml"), "--store", str(store), "--run-id", f"same-{i}"]
        pair = [subprocess.Popen(argv, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        ended = sorted((_finish(p) for p in pair), key=lambda r: r[0])
        assert [code for code, _, _ in ended] == [0, 1], ended
        assert f"run 'same-{i}' already exists" in ended[1][2] and "Traceback" not in ended[1][2]
        attempts = RunStore(str(store)).attempts(f"same-{i}", "flaky")
        assert [a.outcome for a in attempts] == ["recoverable", "success"]  # one run's journal only


def _now() -> str:
    from tether.runtime.store import utc_now

    return utc_now()
