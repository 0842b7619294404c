"""`tether run --resume`: a run whose `tether run` and attempt processes were all SIGKILLed continues.

Finished nodes are not rerun (their journal keeps one attempt), the lost attempt is recorded as
cancelled with its run (a crash of `tether run` is no task's failure: it uses neither budget),
and the next attempt resumes from the checkpoint the killed one committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from cli_helpers import tether
from runtime_helpers import RUN_SPECS, SEED_YAML, resume, wait_for_checkpoint
from tether.runtime.store import RunStore


def test_resume_after_sigkill_of_the_whole_process_group(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    spec = str(RUN_SPECS / "resumable.yaml")
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

    done = resume(tether_cmd, tether_env, "doomed", store_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["run_id"] == "doomed"
    assert result["outputs"]["result"] == 40
    assert result["outputs"]["resumed_from"] >= int(checkpoint_before.decode())  # checkpoint progress kept
    assert [a["outcome"] for a in result["nodes"]["prepare"]["attempts"]] == ["success"]  # not rerun
    train = result["nodes"]["train"]["attempts"]
    assert [(a["number"], a["outcome"]) for a in train] == [(1, "cancelled"), (2, "success")]  # a dead executor charges no task
    assert "prepare: done" in done.stderr


def test_resume_of_an_unknown_run_lists_the_runs_there_are(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    argv = ["run", SEED_YAML, "-p", "n_iterations=10", "--store", str(store_dir), "--run-id", "kept"]
    first = tether(tether_cmd, tether_env, *argv)
    assert first.returncode == 0, first.stderr
    again = tether(tether_cmd, tether_env, *argv)
    assert again.returncode == 1
    assert "run 'kept' already exists" in again.stderr
    missing = resume(tether_cmd, tether_env, "nope", store_dir)
    assert missing.returncode == 1
    assert "no run 'nope'" in missing.stderr and "kept" in missing.stderr


def test_resuming_a_finished_run_reruns_nothing(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    argv = ["run", SEED_YAML, "-p", "n_iterations=10", "--store", str(store_dir), "--run-id", "once", "--json"]
    first = json.loads(tether(tether_cmd, tether_env, *argv).stdout)
    again = resume(tether_cmd, tether_env, "once", store_dir, "--json")
    assert again.returncode == 0
    second = json.loads(again.stdout)
    assert second["outputs"] == first["outputs"] == {"result": 9}
    assert second["nodes"] == first["nodes"]  # the same four attempts: nothing ran again
