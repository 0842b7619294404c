"""`tether run` end to end: real `tether` processes, every attempt its own process, a real store on disk.

The specs and task modules live in tests/run_specs/ (the seed is the real example in specs/examples/).
Assertions read the run's --json report
and the store's journal; none depends on how long anything took.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest

from cli_helpers import tether
from runtime_helpers import EXAMPLES, RUN_SPECS, SEED_PYTHON, SEED_YAML
from tether.runtime.store import RunStore

SEED_SPECS = [pytest.param(SEED_PYTHON, id="python-example"), pytest.param(SEED_YAML, id="yaml-example")]


class RunTether(Protocol):
    def __call__(
        self, spec: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def tether_run(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> RunTether:
    """Run `tether run SPEC ARGS... --store <tmp>/store`; returns the CompletedProcess."""

    def run(spec: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return tether(tether_cmd, env or tether_env, "run", str(RUN_SPECS / spec), "--store", str(tmp_path / "store"), *args, cwd=tmp_path)

    return run


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object `--json` prints on stdout."""
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def outcomes(result: dict[str, Any], node: str) -> list[str]:
    return [a["outcome"] for a in result["nodes"][node]["attempts"]]


@pytest.mark.parametrize("spec", SEED_SPECS)
def test_seed_with_ten_iterations_returns_9_after_exactly_4_attempts(tether_run: RunTether, spec: str) -> None:
    done = tether_run(spec, "-p", "n_iterations=10", "--json")
    assert done.returncode == 0, done.stderr
    result = report(done)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"result": 9}
    assert outcomes(result, "use-checkpoint") == ["recoverable", "recoverable", "recoverable", "success"]
    assert [a["exit_code"] for a in result["nodes"]["use-checkpoint"]["attempts"]] == [75, 75, 75, 0]


@pytest.mark.parametrize("spec", SEED_SPECS)
def test_seed_with_twelve_iterations_returns_11_after_3_attempts(tether_run: RunTether, spec: str) -> None:
    result = report(tether_run(spec, "-p", "n_iterations=12", "--json"))
    assert result["outputs"] == {"result": 11}
    assert outcomes(result, "use-checkpoint") == ["recoverable", "recoverable", "success"]


def test_the_spawned_tether_exec_launcher_gives_the_same_run(tether_run: RunTether, tether_env: dict[str, str]) -> None:
    env = {**tether_env, "TETHER_LAUNCHER": "spawn"}
    result = report(tether_run(SEED_YAML, "-p", "n_iterations=12", "--json", env=env))
    assert result["outputs"] == {"result": 11}
    assert outcomes(result, "use-checkpoint") == ["recoverable", "recoverable", "success"]


def test_a_value_error_is_fatal_after_exactly_one_attempt_whatever_retries_says(tether_run: RunTether) -> None:
    done = tether_run("value_error.yaml", "--json")
    assert done.returncode == 1
    result = report(done)
    assert result["status"] == "failed"
    assert result["outputs"] == {}
    assert outcomes(result, "buggy") == ["fatal"]
    assert "ValueError: not a number" in done.stderr  # the summary shows the end of the log
    assert "resume: tether run --resume" in done.stderr


def test_json_prints_exactly_one_object_with_the_documented_shape(tether_run: RunTether) -> None:
    done = tether_run(SEED_YAML, "-p", "n_iterations=12", "--json")
    result = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert set(result) == {"run_id", "status", "outputs", "nodes"}
    assert set(result["nodes"]["use-checkpoint"]) == {"status", "attempts"}
    for attempt in result["nodes"]["use-checkpoint"]["attempts"]:
        assert set(attempt) == {"number", "outcome", "exit_code", "duration_s"}
        assert isinstance(attempt["duration_s"], float)
    assert [a["number"] for a in result["nodes"]["use-checkpoint"]["attempts"]] == [1, 2, 3]
    assert f"run {result['run_id']} started" in done.stderr
    assert "resume with" not in done.stderr  # only an unfinished run is told how to resume


def test_without_json_the_outputs_go_to_stdout_and_progress_to_stderr(tether_run: RunTether) -> None:
    done = tether_run(SEED_YAML, "-p", "n_iterations=10")
    assert done.returncode == 0
    assert done.stdout == "result: 9\n"
    assert "use-checkpoint: running attempt 4" in done.stderr
    assert "4: recoverable, recoverable, recoverable, success" in done.stderr


def _interval(store: RunStore, run_id: str, node: str) -> tuple[str, str]:
    (attempt,) = store.attempts(run_id, node)
    assert attempt.started is not None and attempt.ended is not None
    return attempt.started, attempt.ended


@pytest.mark.parametrize("max_parallel", [2, 1])
def test_independent_tasks_run_in_parallel_up_to_max_parallel(
    tether_run: RunTether, tmp_path: Path, max_parallel: int
) -> None:
    result = report(tether_run("parallel.yaml", "--max-parallel", str(max_parallel), "--json"))
    assert result["outputs"] == {"labels": "left+right"}
    store = RunStore(str(tmp_path / "store"))
    left, right, join = (_interval(store, result["run_id"], n) for n in ("left", "right", "join"))
    if max_parallel == 2:  # each started before the other ended: they overlapped
        assert left[0] < right[1] and right[0] < left[1]
    else:  # one slot: one ended before the other started
        assert left[1] <= right[0] or right[1] <= left[0]
    assert join[0] >= max(left[1], right[1])  # `after` both


def test_foreach_fans_out_and_when_picks_a_branch(tether_run: RunTether) -> None:
    result = report(tether_run("fanout.yaml", "-p", "n=4", "--json"))
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"sum": 14, "big": "BIG 14", "small": None}
    assert [n for n in result["nodes"] if n.startswith("square")] == [f"square[{i}]" for i in range(4)]
    statuses = {name: node["status"] for name, node in result["nodes"].items()}
    assert statuses["small"] == "skipped" and statuses["big"] == "done" and statuses["echo-big"] == "done"


def test_a_skipped_task_skips_the_tasks_that_read_its_outputs_only(tether_run: RunTether) -> None:
    result = report(tether_run("fanout.yaml", "-p", "n=2", "--json"))
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"sum": 1, "big": None, "small": "SMALL 1"}
    statuses = {name: node["status"] for name, node in result["nodes"].items()}
    assert statuses["big"] == "skipped"
    assert statuses["echo-big"] == "skipped"  # reads big's output, which does not exist
    assert statuses["after-big"] == "done"  # only ordered after big, as Argo's `depends`
    assert result["nodes"]["big"]["attempts"] == []


def test_a_retry_waits_for_its_backoff(tether_run: RunTether, tmp_path: Path) -> None:
    from datetime import datetime

    result = report(tether_run("backoff.yaml", "--json"))
    assert result["outputs"] == {"attempt": 2}
    first, second = RunStore(str(tmp_path / "store")).attempts(result["run_id"], "flaky")
    assert (first.outcome, second.outcome) == ("recoverable", "success")
    assert first.ended is not None and second.started is not None
    waited = datetime.fromisoformat(second.started[:-1]) - datetime.fromisoformat(first.ended[:-1])
    assert waited.total_seconds() >= 0.99  # a lower bound only: the 1 s backoff was honoured


def test_a_timeout_kills_the_attempt_and_counts_as_a_recoverable_failure(tether_run: RunTether) -> None:
    result = report(tether_run("timeout.yaml", "--json"))
    assert result["status"] == "succeeded"
    assert outcomes(result, "hang") == ["timeout", "success"]
    assert result["outputs"] == {"attempt": 2}


def test_dry_run_prints_the_plan_and_writes_nothing(tether_run: RunTether, tmp_path: Path) -> None:
    done = tether_run("resumable.yaml", "--dry-run", "-p", "steps=7")
    assert done.returncode == 0, done.stderr
    plan = done.stdout
    assert plan.index("1. prepare") < plan.index("2. train")
    assert "steps = 7  (int, given)" in plan
    assert "policy:   no retries, interruptible (2 interruptions), checkpoint keep 2, timeout 2h" in plan
    assert f"tether exec --store {tmp_path / 'store'} --run RUN_ID --node train --attempt 1" in plan
    assert not (tmp_path / "store").exists()


def test_dry_run_of_a_foreach_names_its_nodes_when_the_list_is_not_known_yet(tether_run: RunTether) -> None:
    plan = tether_run("fanout.yaml", "--dry-run", "-p", "n=3").stdout
    assert "one node square[i] per item, known when its upstreams finish" in plan
    assert "x = ${{ item }}" in plan
    assert "when:     ${{ tasks.sum.outputs.result > 10 }}" in plan


def test_logs_prints_what_an_attempt_wrote(
    tether_run: RunTether, tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]
) -> None:
    run_id = report(tether_run("fanout.yaml", "-p", "n=4", "--json"))["run_id"]
    store = str(tmp_path / "store")
    logs = tether(tether_cmd, tether_env, "logs", run_id, "big", "--store", store)
    assert logs.returncode == 0
    assert logs.stdout == "==> big attempt 1 (success, exit 0) <==\nshouting big 14\n"
    missing = tether(tether_cmd, tether_env, "logs", run_id, "small", "--store", store)
    assert missing.returncode == 1
    assert "small: no attempt of it was recorded" in missing.stderr


def test_parameters_are_checked_against_the_input_types(tether_run: RunTether) -> None:
    done = tether_run("fanout.yaml", "-p", "n=x", "-p", "m=3")
    assert done.returncode == 2
    assert "-p n=x: expected int, got \"x\"" in done.stderr
    assert "has no input 'm'" in done.stderr
    missing = tether_run("fanout.yaml")
    assert missing.returncode == 2
    assert "missing required input: n (int); pass -p n=..." in missing.stderr


def test_a_spec_with_errors_is_reported_like_tether_check_and_nothing_runs(
    tether_run: RunTether, tmp_path: Path
) -> None:
    done = tether_run("broken.yaml")
    assert done.returncode == 1
    assert "broken.yaml:8:24: error[E302]" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "store").exists()


def test_container_tasks_run_here_and_say_so(tether_run: RunTether) -> None:
    done = tether_run(str(EXAMPLES / "containers.yaml"), "-p", "shards=2", "-p", "samples_per_shard=2000", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("note: container tasks run their commands on this machine; images are not pulled") == 1
    result = report(done)
    assert 2.5 < result["outputs"]["pi"] < 3.8
    assert [n for n in result["nodes"] if n.startswith("simulate")] == ["simulate[0]", "simulate[1]"]


def test_memory_stores_are_refused_with_a_reason(tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = tether(tether_cmd, tether_env, "run", SEED_YAML, "-p", "n_iterations=10", "--store", "memory://runs")
    assert done.returncode == 2
    assert "every attempt runs in its own" in done.stderr


def test_the_local_target_compiles_to_the_same_plan_deterministically(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    argv = ["compile", str(RUN_SPECS / "resumable.yaml"), "--target", "local"]
    first = tether(tether_cmd, tether_env, *argv, cwd=tmp_path)
    second = tether(tether_cmd, tether_env, *argv, cwd=RUN_SPECS)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # no absolute paths, no run id, no clock
    assert "command:  tether exec --store .tether --run RUN_ID --node train --attempt 1" in first.stdout
    assert not (tmp_path / ".tether").exists()


def test_a_fatal_failure_lets_running_tasks_finish_and_starts_nothing_new(tether_run: RunTether) -> None:
    done = tether_run("fatal_stops.yaml", "--max-parallel", "2", "--json")
    assert done.returncode == 1
    result = report(done)
    statuses = {name: (node["status"], len(node["attempts"])) for name, node in result["nodes"].items()}
    assert statuses == {"buggy": ("failed", 1), "slow": ("done", 1), "after-slow": ("stopped", 0)}


def test_a_foreach_over_an_empty_list_runs_nothing_and_downstream_sees_an_empty_list(tether_run: RunTether) -> None:
    result = report(tether_run("fanout.yaml", "-p", "n=0", "--json"))
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"sum": 0, "big": None, "small": "SMALL 0"}
    assert result["nodes"]["square"] == {"status": "done", "attempts": []}


def test_a_run_on_an_s3_store_keeps_its_journal_outputs_and_logs_there(
    tether_cmd: list[str], tether_env: dict[str, str], s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    bucket, options = s3_bucket
    env = {**tether_env, "TETHER_STORE_OPTIONS": json.dumps(options)}
    store = f"{bucket}/tether"
    done = tether(tether_cmd, env, "run", str(RUN_SPECS / "flaky.yaml"), "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    result = report(done)
    assert result["outputs"] == {"attempt": 2}
    assert outcomes(result, "flaky") == ["recoverable", "success"]
    logs = tether(tether_cmd, env, "logs", result["run_id"], "flaky", "--attempt", "1", "--store", store)
    assert logs.returncode == 0, logs.stderr
    assert "RecoverableError: attempt 1 fails on purpose" in logs.stdout  # uploaded to S3 when it ended
