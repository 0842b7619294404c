"""`tether run --resume`: a run whose `tether run` and attempt processes were all SIGKILLed continues.

Finished nodes are not rerun (their journal keeps one attempt), the lost attempt is counted as
an interruption, and the next attempt resumes from the checkpoint the killed one committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tether.runtime.store import RunStore

SPECS = Path(__file__).resolve().parent / "run_specs"


def wait_for_checkpoint(store: RunStore, run_id: str, node: str, deadline_s: float = 60.0) -> None:
    """Poll until the node's first attempt has committed a checkpoint (its timing is never asserted)."""
    give_up = time.monotonic() + deadline_s
    while time.monotonic() < give_up:
        if store.checkpoint(run_id, node, 1, 2).latest() is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"{node} never committed a checkpoint")


def test_resume_after_sigkill_of_the_whole_process_group(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    spec = str(SPECS / "resumable.yaml")
    argv = [*tether_cmd, "run", spec, "--store", str(store_dir), "--run-id", "doomed", "-p", "steps=40"]
    # its own session, so one killpg reaches `tether run` and every attempt it forked
    process = subprocess.Popen(
        argv, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    store = RunStore(str(store_dir))
    wait_for_checkpoint(store, "doomed", "train")
    os.killpg(process.pid, signal.SIGKILL)  # tether run and its attempt, with no chance to record anything
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    (lost,) = store.attempts("doomed", "train")
    assert lost.outcome is None  # started, never ended
    checkpoint_before = store.checkpoint("doomed", "train", 2, 2).read()
    assert checkpoint_before is not None

    done = subprocess.run(
        [*tether_cmd, "run", "--resume", "doomed", "--store", str(store_dir), "--json"],
        env=tether_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["run_id"] == "doomed"
    assert result["outputs"]["result"] == 40
    assert result["outputs"]["resumed_from"] >= int(checkpoint_before.decode())  # checkpoint progress kept
    assert [a["outcome"] for a in result["nodes"]["prepare"]["attempts"]] == ["success"]  # not rerun
    train = result["nodes"]["train"]["attempts"]
    assert [(a["number"], a["outcome"]) for a in train] == [(1, "interrupted"), (2, "success")]
    assert "prepare: done" in done.stderr


def test_resume_of_an_unknown_run_lists_the_runs_there_are(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    first = subprocess.run(
        [*tether_cmd, "run", str(SPECS / "seed.yaml"), "--store", str(store_dir), "--run-id", "kept"],
        env=tether_env,
        capture_output=True,
        text=True,
    )
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*tether_cmd, "run", str(SPECS / "seed.yaml"), "--store", str(store_dir), "--run-id", "kept"],
        env=tether_env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "run 'kept' already exists" in again.stderr
    missing = subprocess.run(
        [*tether_cmd, "run", "--resume", "nope", "--store", str(store_dir)],
        env=tether_env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert "no run 'nope'" in missing.stderr and "kept" in missing.stderr


def test_resuming_a_finished_run_reruns_nothing(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    argv = [*tether_cmd, "run", str(SPECS / "seed.yaml"), "--store", str(store_dir), "--run-id", "once", "--json"]
    first = json.loads(subprocess.run(argv, env=tether_env, capture_output=True, text=True).stdout)
    again = subprocess.run(
        [*tether_cmd, "run", "--resume", "once", "--store", str(store_dir), "--json"],
        env=tether_env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0
    second = json.loads(again.stdout)
    assert second["outputs"] == first["outputs"] == {"result": 9}
    assert second["nodes"] == first["nodes"]  # the same four attempts: nothing ran again
