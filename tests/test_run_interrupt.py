"""Interruptions: `--interrupt` as a spot reclaim on demand, and Ctrl-C / SIGTERM of `tether run`.

An interrupted attempt gets a real SIGTERM, flushes its checkpoint, exits 143 and is retried on
the interruption budget; the retry resumes from the checkpoint. Everything is read back from
the run's JSON report and its journal.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from cli_helpers import tether
from runtime_helpers import RUN_SPECS, resume, wait_for_checkpoint
from tether.runtime.store import RunStore


def run(
    tether_cmd: list[str], env: dict[str, str], store: Path, spec: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return tether(tether_cmd, env, "run", str(RUN_SPECS / spec), "--store", str(store), "--json", *args)


@pytest.mark.parametrize("when", ["", ":after=0.3"])
def test_an_interrupted_attempt_resumes_from_its_checkpoint_without_using_a_retry(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path, when: str
) -> None:
    # train has retries: 0, so only the interruption budget can give it a second attempt.
    done = run(tether_cmd, tether_env, tmp_path / "store", "resumable.yaml", "--interrupt", f"train@1{when}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    attempts = result["nodes"]["train"]["attempts"]
    assert [(a["outcome"], a["exit_code"]) for a in attempts] == [("interrupted", 143), ("success", 0)]
    assert result["outputs"]["result"] == 20
    assert result["outputs"]["resumed_from"] >= 1  # attempt 2 started where attempt 1's checkpoint left off
    assert "train: interrupting attempt 1 (SIGTERM, as a spot reclaim)" in done.stderr
    assert "interruption 1 of 2 retried" in done.stderr


def test_without_a_budget_of_its_own_an_interruption_uses_the_retries(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    done = run(tether_cmd, tether_env, tmp_path / "store", "not_interruptible.yaml", "--interrupt", "train@1")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    assert [a["outcome"] for a in result["nodes"]["train"]["attempts"]] == ["interrupted"]
    assert "no retries allowed" in done.stderr


@pytest.mark.parametrize(
    ("interrupt", "message"),
    [
        ("trian@1", "--interrupt trian@1: no such task (tasks: prepare, train)"),
        ("train", "expected NODE@ATTEMPT"),
    ],
)
def test_a_malformed_or_unknown_interrupt_is_refused(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path, interrupt: str, message: str
) -> None:
    done = run(tether_cmd, tether_env, tmp_path / "store", "resumable.yaml", "--interrupt", interrupt)
    assert done.returncode == 2
    assert message in done.stderr


def test_ctrl_c_interrupts_the_running_attempts_and_the_run_resumes_from_their_checkpoints(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    spec = str(RUN_SPECS / "resumable.yaml")
    argv = [*tether_cmd, "run", spec, "--store", str(store_dir), "--run-id", "ctrl-c", "--json"]
    process = subprocess.Popen(argv, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = RunStore(str(store_dir))
    wait_for_checkpoint(store, "ctrl-c", "train")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    stopped = json.loads(stdout)
    assert stopped["status"] == "interrupted"
    # stopped because the run was, not the task: recorded as cancelled, which uses no budget
    assert [a["outcome"] for a in stopped["nodes"]["train"]["attempts"]] == ["cancelled"]
    assert "resume: tether run --resume ctrl-c" in stderr

    resumed = resume(tether_cmd, tether_env, "ctrl-c", store_dir, "--json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert [a["outcome"] for a in result["nodes"]["train"]["attempts"]] == ["cancelled", "success"]
    assert result["outputs"]["resumed_from"] >= 1
    assert [a["outcome"] for a in result["nodes"]["prepare"]["attempts"]] == ["success"]


def test_a_container_task_is_interrupted_without_after_and_resumes_from_its_checkpoint_dir(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    # A container's $TETHER_CHECKPOINT_DIR is committed when its command ends or is terminated,
    # so there is no first commit to wait for: the injected reclaim comes after one second.
    store = tmp_path / "store"
    spec = str(Path(__file__).resolve().parent.parent / "specs/examples/containers.yaml")
    done = tether(
        tether_cmd, tether_env, "run", spec, "--store", str(store), "--json",
        "-p", "shards=1", "-p", "samples_per_shard=6000000", "--interrupt", "simulate[0]@1",
    )
    assert done.returncode == 0, done.stderr
    attempts = json.loads(done.stdout)["nodes"]["simulate[0]"]["attempts"]
    assert [a["outcome"] for a in attempts] == ["interrupted", "success"]
    run_id = json.loads(done.stdout)["run_id"]
    log = tether(tether_cmd, tether_env, "logs", run_id, "simulate[0]", "--store", str(store))
    assert "resuming after" in log.stdout


def test_ctrl_c_as_soon_as_the_run_exists_records_it_interrupted_and_says_how_to_resume(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    # The signal is sent the moment run.json appears: before the executor's own handlers, most
    # often (held by runtime/deferred_stop.py), or just after; either way the same ending.
    store_dir = tmp_path / "store"
    argv = [*tether_cmd, "run", str(RUN_SPECS / "resumable.yaml"), "--store", str(store_dir), "--run-id", "early"]
    process = subprocess.Popen(argv, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (store_dir / "runs/early/run.json").exists() and process.poll() is None:
        pass
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "resume: tether run --resume early" in stderr
    status = tether(tether_cmd, tether_env, "status", "early", "--store", str(store_dir), "--json")
    assert json.loads(status.stdout)["status"] == "interrupted", status.stdout
    resumed = resume(tether_cmd, tether_env, "early", store_dir, "--json")
    assert resumed.returncode == 0, resumed.stderr


def test_an_attempt_stopped_by_ctrl_c_says_it_was_cancelled_and_runs_again_on_resume(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    argv = [*tether_cmd, "run", str(RUN_SPECS / "not_interruptible.yaml"), "--store", str(store_dir), "--run-id", "c"]
    process = subprocess.Popen(argv, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(RunStore(str(store_dir)), "c", "train")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    log = tether(tether_cmd, tether_env, "logs", "c", "train", "--store", str(store_dir)).stdout
    assert "attempt 1 of train cancelled: the run was cancelled by the user (SIGINT)" in log
    assert "runs again on `tether run --resume c`" in log
    assert "not interruptible" not in log
