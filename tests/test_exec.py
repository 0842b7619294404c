"""`tether exec`: one attempt, its exit code, its journal, its outputs, its checkpoint.

Exit codes and signals are tested on real `python -m tether exec` processes against a store in a
temporary directory; value plumbing (inputs, foreach, outputs, environment) runs in-process
through `run_attempt`, the same function a forked worker calls, on a memory:// store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from runtime_helpers import EXAMPLES, SEED_PYTHON
from tether.core import ir
from tether.core.expr import Literal, parse_template
from tether.core.types import parse_type
from tether.runtime.entry import run_attempt
from tether.runtime.store import RunRecord, RunStore

TASKS_DIR = str(Path(__file__).resolve().parent / "exec_tasks")


# ---------------------------------------------------------------------------- building runs


def _binding(name: str, type_text: str, value: Any) -> ir.Binding:
    if isinstance(value, str) and "${{" in value:
        expr = parse_template(value)
    else:
        expr = Literal(tuple(value) if isinstance(value, list) else value)
    return ir.Binding(name, parse_type(type_text), expr)


def _task(name: str, *, python: str | None = None, container: ir.Container | None = None, inputs: dict[str, tuple[str, Any]] | None = None, outputs: dict[str, str] | None = None, **policies: Any) -> ir.Task:
    return ir.Task(
        name=name,
        python=python,
        container=container,
        inputs=tuple(_binding(n, t, v) for n, (t, v) in sorted((inputs or {}).items())),
        outputs=tuple(ir.Output(n, parse_type(t)) for n, t in sorted((outputs or {}).items())),
        **policies,
    )


def _command(script: str, *args: str) -> ir.Container:
    return ir.Container((Literal(sys.executable), Literal("-c")), (Literal(script), *(parse_template(a) if "${{" in a else Literal(a) for a in args)))


def _create(
    store: RunStore, *tasks: ir.Task, inputs: tuple[ir.WorkflowInput, ...] = (), params: dict[str, Any] | None = None, code_path: str = TASKS_DIR
) -> str:
    run_id = store.new_run_id()
    store.create_run(run_id, RunRecord(ir.Workflow("test", tasks=tasks, inputs=inputs), params or {}, "test.yaml", (code_path,)))
    return run_id


@pytest.fixture
def disk_store(tmp_path: Path) -> RunStore:
    return RunStore(str(tmp_path / "store"))


@pytest.fixture
def memory_store() -> Iterator[RunStore]:
    store = RunStore(f"memory://exec-{uuid.uuid4().hex[:8]}")
    yield store
    if store.fs.exists(store.root):
        store.fs.rm(store.root, recursive=True)


def _exec(store: RunStore, run_id: str, node: str, attempt: int | None, tether_env: dict[str, str], cwd: Path, **popen: Any) -> Any:
    argv = [sys.executable, "-m", "tether", "exec", "--store", store.uri, "--run", run_id, "--node", node]
    if attempt is not None:
        argv += ["--attempt", str(attempt)]
    if popen.pop("background", False):
        return subprocess.Popen(argv, env=tether_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    return subprocess.run(argv, env=tether_env, cwd=cwd, capture_output=True, text=True, **popen)


def _outcomes(store: RunStore, run_id: str, node: str) -> list[tuple[str | None, int | None]]:
    return [(a.outcome, a.exit_code) for a in store.attempts(run_id, node)]


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Until the task says it is ready (a file), or fail with its stderr if it died first."""
    deadline = time.monotonic() + 30
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the attempt ended before it was ready: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the attempt never became ready")
        time.sleep(0.02)


def _terminate_once_ready(store: RunStore, run_id: str, node: str, ready: Path, tether_env: dict[str, str], cwd: Path) -> str:
    """Attempt 1 of `node` in the background, SIGTERMed once it is ready; asserts exit 143, returns its stderr."""
    process = _exec(store, run_id, node, 1, tether_env, cwd, background=True)
    _wait_for(ready, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    return str(stderr)


# ---------------------------------------------------------------------------- exit codes (subprocess)


def test_success_writes_outputs_and_journal(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    task = _task("add", python="exec_steps:add", inputs={"a": ("int", 2), "b": ("int", "${{ inputs.b }}")}, outputs={"result": "int"})
    run_id = _create(disk_store, task, inputs=(ir.WorkflowInput("b", parse_type("int")),), params={"b": 5})
    done = _exec(disk_store, run_id, "add", 1, tether_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert disk_store.read_outputs(run_id, "add") == {"result": 7}
    assert _outcomes(disk_store, run_id, "add") == [("success", 0)]


def test_recoverable_error_exits_75_and_says_how_many_retries_are_left(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    run_id = _create(disk_store, _task("flaky", python="exec_steps:flaky", outputs={"result": "int"}, retry=ir.RetryPolicy(2)))
    done = _exec(disk_store, run_id, "flaky", 1, tether_env, tmp_path)
    assert done.returncode == 75
    assert "raise RecoverableError" in done.stderr  # the user's traceback
    assert "tether: attempt 1 of flaky failed: RecoverableError: the API said 503 (will retry: 1 of 2 retries left)" in done.stderr
    assert _outcomes(disk_store, run_id, "flaky") == [("recoverable", 75)]
    assert disk_store.read_outputs(run_id, "flaky") is None


def test_any_other_exception_is_fatal_even_with_retries(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    run_id = _create(disk_store, _task("broken", python="exec_steps:broken", outputs={"result": "int"}, retry=ir.RetryPolicy(5)))
    done = _exec(disk_store, run_id, "broken", 1, tether_env, tmp_path)
    assert done.returncode == 1
    assert "ValueError: bad input row 17 (only tether.RecoverableError is retried)" in done.stderr
    assert 'exec_steps.py", line' in done.stderr and "tether/runtime" not in done.stderr
    assert _outcomes(disk_store, run_id, "broken") == [("fatal", 1)]


def test_the_recoverable_failure_after_the_budget_is_fatal(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    run_id = _create(disk_store, _task("flaky", python="exec_steps:flaky", outputs={"result": "int"}, retry=ir.RetryPolicy(1)))
    assert _exec(disk_store, run_id, "flaky", 1, tether_env, tmp_path).returncode == 75
    second = _exec(disk_store, run_id, "flaky", 2, tether_env, tmp_path)
    assert second.returncode == 1
    assert "retry budget (1 retry) is spent" in second.stderr
    assert _outcomes(disk_store, run_id, "flaky") == [("recoverable", 75), ("recoverable", 1)]  # no retries left


def test_seed_use_checkpoint_resumes_across_attempts(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    """The seed, compiled by the Python front end, needs exactly 4 attempts for n_iterations=10."""
    from tether.compiler.load import load

    workflow = load(SEED_PYTHON).workflow
    assert workflow is not None
    run_id = disk_store.new_run_id()
    disk_store.create_run(run_id, RunRecord(workflow, {"n_iterations": 10}, "checkpointing.py:checkpointing_example", (str(EXAMPLES),)))
    codes = [_exec(disk_store, run_id, "use-checkpoint", n, tether_env, tmp_path).returncode for n in (1, 2, 3, 4)]
    assert codes == [75, 75, 75, 0]
    assert disk_store.read_outputs(run_id, "use-checkpoint") == {"result": 9}
    attempts = disk_store.attempts(run_id, "use-checkpoint")
    assert [a.checkpoint_seq for a in attempts] == [3, 6, 9, 10]  # each attempt resumed where the last stopped


def test_sigterm_flushes_runs_finally_and_exits_143(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    ready, finally_file = tmp_path / "ready", tmp_path / "finally"
    inputs = {"ready_file": ("str", str(ready)), "finally_file": ("str", str(finally_file))}
    first = _task("train", python="exec_steps:checkpoint_then_wait", inputs=inputs, outputs={"result": "int"}, interruptible=ir.InterruptPolicy(2))
    run_id = _create(disk_store, first)
    stderr = _terminate_once_ready(disk_store, run_id, "train", ready, tether_env, tmp_path)
    assert finally_file.read_text() == "finally ran"
    assert "interrupted: terminated by SIGTERM; checkpoint kept (will resume: 1 of 2 interruptions left, retries untouched)" in stderr
    [attempt] = disk_store.attempts(run_id, "train")
    assert (attempt.outcome, attempt.exit_code, attempt.checkpoint_seq) == ("interrupted", 143, 1)
    assert disk_store.checkpoint(run_id, "train", 2, keep=3).read() == b"step-41"


def test_sigterm_during_checkpoint_writes_leaves_the_last_whole_checkpoint(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    task = _task("writer", python="exec_steps:checkpoint_forever", inputs={"ready_file": ("str", str(ready))}, outputs={"result": "int"}, interruptible=ir.InterruptPolicy(1))
    run_id = _create(disk_store, task)
    stderr = _terminate_once_ready(disk_store, run_id, "writer", ready, tether_env, tmp_path)
    data = disk_store.checkpoint(run_id, "writer", 2, keep=3).read()
    assert data is not None and len(data) == 8 * 131072
    step = data[:8]
    assert data == step * 131072  # one whole write, never a mix of two
    [attempt] = disk_store.attempts(run_id, "writer")
    assert attempt.checkpoint_seq == int(step) + 1  # the journal names the checkpoint read() returns


def test_container_outputs_and_checkpoint_dir_survive_a_retry(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    script = """
import json, os, sys
state = os.path.join(os.environ["TETHER_CHECKPOINT_DIR"], "state.json")
if not os.path.exists(state):
    with open(state, "w") as f:
        json.dump({"seen": int(sys.argv[1])}, f)
    sys.exit(75)
with open(state) as f:
    seen = json.load(f)["seen"]
with open(os.path.join(os.environ["TETHER_OUTPUTS"], "total"), "w") as f:
    json.dump(seen + int(os.environ["TETHER_ATTEMPT"]), f)
with open(os.path.join(os.environ["TETHER_OUTPUTS"], "label"), "w") as f:
    json.dump(sys.argv[2], f)
"""
    task = _task("count", container=_command(script, "${{ inputs.n }}", "n=${{ inputs.n }}"), outputs={"total": "int", "label": "str"}, retry=ir.RetryPolicy(1))
    run_id = _create(disk_store, task, inputs=(ir.WorkflowInput("n", parse_type("int"), True, 40),))
    first = _exec(disk_store, run_id, "count", 1, tether_env, tmp_path)
    assert first.returncode == 75, first.stderr
    second = _exec(disk_store, run_id, "count", 2, tether_env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert disk_store.read_outputs(run_id, "count") == {"total": 42, "label": "n=40"}
    assert _outcomes(disk_store, run_id, "count") == [("recoverable", 75), ("success", 0)]


def test_container_gets_the_sigterm_and_its_checkpoint_dir_is_saved(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = """
import os, signal, sys, time
state = os.path.join(os.environ["TETHER_CHECKPOINT_DIR"], "progress")
def stop(signum, frame):
    with open(state, "w") as f:
        f.write("saved on SIGTERM")
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
with open(sys.argv[1], "w") as f:
    f.write("ready")
while True:
    time.sleep(0.05)
"""
    task = _task("simulate", container=_command(script, str(ready)), outputs={"result": "int"}, interruptible=ir.InterruptPolicy(3))
    run_id = _create(disk_store, task)
    stderr = _terminate_once_ready(disk_store, run_id, "simulate", ready, tether_env, tmp_path)
    assert _outcomes(disk_store, run_id, "simulate") == [("interrupted", 143)]
    restored = tmp_path / "restored"
    disk_store.checkpoint(run_id, "simulate", 2, keep=3).restore(restored)
    assert (restored / "progress").read_text() == "saved on SIGTERM"


def test_unknown_run_is_a_usage_error_naming_the_runs_that_exist(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    run_id = _create(disk_store, _task("add", python="exec_steps:add", outputs={"result": "int"}))
    done = _exec(disk_store, "20990101-000000-000000", "add", 1, tether_env, tmp_path)
    assert done.returncode == 2
    assert run_id in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------- budgets (in-process)


def _flaky(**policies: Any) -> ir.Task:
    return _task("flaky", python="exec_steps:flaky", outputs={"result": "int"}, **policies)


def test_interruptions_never_consume_the_retry_budget(memory_store: RunStore) -> None:
    run_id = _create(memory_store, _flaky(retry=ir.RetryPolicy(1), interruptible=ir.InterruptPolicy(3)))
    memory_store.record_start(run_id, "flaky", 1, {})
    memory_store.record_end(run_id, "flaky", 1, "interrupted", 143, {})
    memory_store.record_start(run_id, "flaky", 2, {})  # lost: the node vanished
    memory_store.record_start(run_id, "flaky", 3, {})
    memory_store.record_end(run_id, "flaky", 3, "interrupted", 143, {})
    assert run_attempt(memory_store, run_id, "flaky", 4) == 75
    assert run_attempt(memory_store, run_id, "flaky", 5) == 1


def test_a_non_interruptible_tasks_interruption_uses_its_retries(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _create(memory_store, _flaky(retry=ir.RetryPolicy(1)))
    memory_store.record_start(run_id, "flaky", 1, {})
    memory_store.record_end(run_id, "flaky", 1, "interrupted", 143, {})
    assert run_attempt(memory_store, run_id, "flaky", 2) == 1
    assert "retry budget (1 retry) is spent" in capsys.readouterr().err


def test_an_attempt_cancelled_with_its_run_uses_no_budget(memory_store: RunStore) -> None:
    run_id = _create(memory_store, _task("add", python="exec_steps:add", inputs={"a": ("int", 1), "b": ("int", 2)}, outputs={"result": "int"}))
    memory_store.record_start(run_id, "add", 1, {})
    memory_store.record_end(run_id, "add", 1, "interrupted", 143, {})  # what the attempt saw: SIGTERM
    memory_store.record_end(run_id, "add", 1, "cancelled", None, {})  # why: the user stopped the run
    assert run_attempt(memory_store, run_id, "add", 2) == 0


def test_timeouts_use_the_retry_budget(memory_store: RunStore) -> None:
    run_id = _create(memory_store, _flaky(retry=ir.RetryPolicy(2), interruptible=ir.InterruptPolicy(3)))
    memory_store.record_start(run_id, "flaky", 1, {})
    memory_store.record_end(run_id, "flaky", 1, "timeout", None, {})
    assert run_attempt(memory_store, run_id, "flaky", 2) == 75
    assert run_attempt(memory_store, run_id, "flaky", 3) == 1


def test_an_attempt_past_the_interruption_budget_is_refused(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _create(memory_store, _task("add", python="exec_steps:add", inputs={"a": ("int", 1), "b": ("int", 2)}, outputs={"result": "int"}, interruptible=ir.InterruptPolicy(1)))
    for number in (1, 2):
        memory_store.record_start(run_id, "add", number, {})
        memory_store.record_end(run_id, "add", number, "interrupted", 143, {})
    assert run_attempt(memory_store, run_id, "add", 3) == 1
    assert "not started: the interruption budget (1 interruption) was already spent" in capsys.readouterr().err
    assert memory_store.read_outputs(run_id, "add") is None


def test_attempt_number_defaults_to_one_past_the_journal(memory_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TETHER_ATTEMPT", raising=False)
    monkeypatch.delenv("AWS_BATCH_JOB_ATTEMPT", raising=False)
    run_id = _create(memory_store, _flaky(retry=ir.RetryPolicy(5)))
    assert run_attempt(memory_store, run_id, "flaky") == 75
    monkeypatch.setenv("AWS_BATCH_JOB_ATTEMPT", "4")
    assert run_attempt(memory_store, run_id, "flaky") == 75
    assert [a.number for a in memory_store.attempts(run_id, "flaky")] == [1, 4]


# ---------------------------------------------------------------------------- values (in-process)


def test_foreach_items_and_their_list_downstream(memory_store: RunStore) -> None:
    square = _task("square", python="exec_steps:square", inputs={"x": ("int", "${{ item }}")}, outputs={"result": "int"}, foreach=parse_template("${{ inputs.xs }}"))
    total = _task("total", python="exec_steps:total", inputs={"values": ("list[int]", "${{ tasks.square.outputs.result }}")}, outputs={"result": "int"})
    run_id = _create(memory_store, square, total, inputs=(ir.WorkflowInput("xs", parse_type("list[int]")),), params={"xs": [1, 2, 3]})
    for index in (2, 0, 1):
        assert run_attempt(memory_store, run_id, f"square[{index}]", 1) == 0
    assert memory_store.read_outputs(run_id, "square[2]") == {"result": 9}
    assert run_attempt(memory_store, run_id, "total", 1) == 0
    assert memory_store.read_outputs(run_id, "total") == {"result": 14}


def test_a_foreach_item_that_does_not_exist_is_fatal(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    square = _task("square", python="exec_steps:square", inputs={"x": ("int", "${{ item }}")}, outputs={"result": "int"}, foreach=parse_template("${{ inputs.xs }}"))
    run_id = _create(memory_store, square, inputs=(ir.WorkflowInput("xs", parse_type("list[int]"), True, [1]),))
    assert run_attempt(memory_store, run_id, "square[5]", 1) == 1
    assert "square[5] does not exist: the foreach list has 1 items" in capsys.readouterr().err


def test_several_outputs_from_a_namedtuple_or_a_dict(memory_store: RunStore) -> None:
    outputs = {"count": "int", "mean": "float"}
    tasks = [
        _task(name, python=f"exec_steps:{fn}", inputs={"values": ("list[int]", [1, 2, 6])}, outputs=outputs)
        for name, fn in (("stats", "stats"), ("stats-dict", "stats_as_dict"))
    ]
    run_id = _create(memory_store, *tasks)
    for task in tasks:
        assert run_attempt(memory_store, run_id, task.name, 1) == 0
        assert memory_store.read_outputs(run_id, task.name) == {"count": 3, "mean": 3.0}


def test_float_inputs_arrive_as_floats_and_paths_as_strings(memory_store: RunStore, tmp_path: Path) -> None:
    scale = _task("scale", python="exec_steps:scale", inputs={"values": ("list[float]", [1, 2]), "factor": ("float", 1)}, outputs={"result": "list[float]"})
    report = _task("report", python="exec_steps:write_report", inputs={"directory": ("dir", str(tmp_path))}, outputs={"result": "file"})
    run_id = _create(memory_store, scale, report)
    assert run_attempt(memory_store, run_id, "scale", 1) == 0
    assert memory_store.read_outputs(run_id, "scale") == {"result": [1.0, 2.0]}
    assert run_attempt(memory_store, run_id, "report", 1) == 0
    assert memory_store.read_outputs(run_id, "report") == {"result": str(tmp_path / "report.txt")}


def test_an_output_of_the_wrong_type_is_fatal(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _create(memory_store, _task("wrong", python="exec_steps:wrong_type", outputs={"result": "int"}, retry=ir.RetryPolicy(3)))
    assert run_attempt(memory_store, run_id, "wrong", 1) == 1
    assert "output 'result' of wrong must be int, got 'seven' (str)" in capsys.readouterr().err
    assert memory_store.read_outputs(run_id, "wrong") is None


def test_a_parameter_of_the_wrong_type_is_fatal_and_named(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    task = _task("add", python="exec_steps:add", inputs={"a": ("int", "${{ inputs.a }}"), "b": ("int", 1)}, outputs={"result": "int"})
    run_id = _create(memory_store, task, inputs=(ir.WorkflowInput("a", parse_type("int")),), params={"a": "ten"})
    assert run_attempt(memory_store, run_id, "add", 1) == 1
    assert "workflow input 'a': expected int, got 'ten'" in capsys.readouterr().err


def test_decorated_tasks_run_their_wrapped_function(memory_store: RunStore) -> None:
    run_id = _create(memory_store, _task("decorated", python="exec_steps:decorated", inputs={"x": ("int", 41)}, outputs={"result": "int"}))
    assert run_attempt(memory_store, run_id, "decorated", 1) == 0
    assert memory_store.read_outputs(run_id, "decorated") == {"result": 42}


def test_identity_env_and_secrets_reach_the_task_and_never_the_store(
    memory_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_value = "s3cr3t-" + uuid.uuid4().hex
    (tmp_path / "secrets" / "api").mkdir(parents=True)
    (tmp_path / "secrets" / "api" / "token").write_text(secret_value + "\n")
    monkeypatch.setenv("TETHER_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("API_TOKEN", raising=False)
    task = _task(
        "identity",
        python="exec_steps:identity",
        outputs={"result": "dict[str, str]"},
        env=(("LOG_LEVEL", "debug"),),
        secrets=(ir.Secret("api", "token", "API_TOKEN"),),
    )
    run_id = _create(memory_store, task)
    assert run_attempt(memory_store, run_id, "identity", 3) == 0
    assert memory_store.read_outputs(run_id, "identity") == {"result": {
        "run": run_id,
        "node": "identity",
        "attempt": "3",
        "context": f"{run_id}/identity/3",
        "level": "debug",
        "token_length": str(len(secret_value)),
    }}
    assert "API_TOKEN" not in os.environ  # the attempt's environment is put back
    everything = b"".join(memory_store.fs.cat_file(p) for p in memory_store.fs.find(memory_store.root))
    assert secret_value.encode() not in everything


def test_a_missing_secret_says_where_it_was_looked_for(memory_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TETHER_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("API_TOKEN", raising=False)
    task = _task("identity", python="exec_steps:identity", outputs={"result": "dict[str, str]"}, secrets=(ir.Secret("api", "token", "API_TOKEN"),))
    run_id = _create(memory_store, task)
    assert run_attempt(memory_store, run_id, "identity", 1) == 1
    err = capsys.readouterr().err
    assert "set the environment variable API_TOKEN" in err and str(tmp_path / "api" / "token") in err


def test_a_node_that_already_succeeded_is_not_run_again(memory_store: RunStore) -> None:
    run_id = _create(memory_store, _flaky(retry=ir.RetryPolicy(0)))
    memory_store.write_outputs(run_id, "flaky", {"result": 1})
    assert run_attempt(memory_store, run_id, "flaky", 2) == 0
    assert memory_store.attempts(run_id, "flaky") == []


def test_unknown_task_is_a_usage_error(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _create(memory_store, _flaky())
    assert run_attempt(memory_store, run_id, "flakey", 1) == 2
    assert "no task 'flakey' (its tasks: flaky)" in capsys.readouterr().err
    assert run_attempt(memory_store, run_id, "Flaky!", 1) == 2


def test_missing_upstream_outputs_are_fatal_with_the_node_named(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    first = _task("first", python="exec_steps:add", inputs={"a": ("int", 1), "b": ("int", 1)}, outputs={"result": "int"})
    second = _task("second", python="exec_steps:add", inputs={"a": ("int", "${{ tasks.first.outputs.result }}"), "b": ("int", 1)}, outputs={"result": "int"})
    run_id = _create(memory_store, first, second)
    assert run_attempt(memory_store, run_id, "second", 1) == 1
    assert "upstream node first has no outputs" in capsys.readouterr().err
    assert json.dumps(_outcomes(memory_store, run_id, "second")) == '[["fatal", 1]]'


def test_an_attempt_on_s3_resumes_from_the_checkpoint_the_last_one_wrote(
    s3_bucket: tuple[str, dict[str, Any]], tether_env: dict[str, str], tmp_path: Path
) -> None:
    bucket, options = s3_bucket
    store = RunStore(f"{bucket}/runs", storage_options=options)
    task = _task("use-checkpoint", python="checkpointing:use_checkpoint", inputs={"n_iterations": ("int", 10)}, outputs={"result": "int"}, retry=ir.RetryPolicy(3))
    run_id = _create(store, task, code_path=str(EXAMPLES))
    env = {**tether_env, "TETHER_STORE_OPTIONS": json.dumps(options)}
    codes = [_exec(store, run_id, "use-checkpoint", n, env, tmp_path).returncode for n in (1, 2)]
    assert codes == [75, 75]
    assert [a.checkpoint_seq for a in store.attempts(run_id, "use-checkpoint")] == [3, 6]
    assert store.checkpoint(run_id, "use-checkpoint", 3, keep=3).read() == b"6"


def test_a_task_that_calls_sys_exit_fails_instead_of_vanishing(memory_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _create(memory_store, _task("exits", python="exec_steps:exits", outputs={"result": "int"}, retry=ir.RetryPolicy(2)))
    assert run_attempt(memory_store, run_id, "exits", 1) == 1
    assert "the task called sys.exit(3) instead of returning" in capsys.readouterr().err
    assert _outcomes(memory_store, run_id, "exits") == [("fatal", 1)]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("import sys; sys.exit(3)", "the command exited 3 (only exit 75 is retried)"),
        ("pass", "did not write its output 'result' (write it as JSON to $TETHER_OUTPUTS/result)"),
        (
            "import os; open(os.path.join(os.environ['TETHER_OUTPUTS'], 'result'), 'w').write('hello')",
            "output 'result' in $TETHER_OUTPUTS/result is not JSON",
        ),
        (
            "import os; open(os.path.join(os.environ['TETHER_OUTPUTS'], 'result'), 'w').write('\"hello\"')",
            "output 'result' of cmd must be int, got 'hello' (str)",
        ),
    ],
)
def test_container_failures_are_fatal_and_explained(memory_store: RunStore, capsys: pytest.CaptureFixture[str], script: str, message: str) -> None:
    run_id = _create(memory_store, _task("cmd", container=_command(script), outputs={"result": "int"}, retry=ir.RetryPolicy(2)))
    assert run_attempt(memory_store, run_id, "cmd", 1) == 1
    assert message in capsys.readouterr().err
    exit_code = 3 if "sys.exit(3)" in script else 1  # the command's own exit code is recorded
    assert _outcomes(memory_store, run_id, "cmd") == [("fatal", exit_code)]


def test_a_command_that_cannot_start_is_fatal(memory_store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_executable = tmp_path / "script.sh"
    not_executable.write_text("echo hi\n")
    missing = ir.Container((Literal("tether-no-such-command"),))
    denied = ir.Container((Literal(str(not_executable)),))
    run_id = _create(memory_store, _task("missing", container=missing), _task("denied", container=denied))
    assert run_attempt(memory_store, run_id, "missing", 1) == 1
    assert "command 'tether-no-such-command' of missing is not on PATH on this machine" in capsys.readouterr().err
    assert run_attempt(memory_store, run_id, "denied", 1) == 1
    assert "Permission denied" in capsys.readouterr().err


def test_a_secret_quoted_in_an_error_is_masked_in_the_journal_and_the_log(
    memory_store: RunStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_value = "tok-" + uuid.uuid4().hex
    monkeypatch.setenv("API_TOKEN", secret_value)
    task = _task("leaky", python="exec_steps:leaky", outputs={"result": "int"}, secrets=(ir.Secret("api", "token", "API_TOKEN"),))
    run_id = _create(memory_store, task)
    assert run_attempt(memory_store, run_id, "leaky", 1) == 1
    err = capsys.readouterr().err
    assert "ValueError: the server refused token ***" in err and secret_value not in err
    [attempt] = memory_store.attempts(run_id, "leaky")
    assert attempt.message == "ValueError: the server refused token *** (only tether.RecoverableError is retried)"


# ---------------------------------------------------------------------------- cluster mode (--task)


def _cluster_workflow() -> ir.Workflow:
    """square[i] over inputs.xs (when inputs.go), total over its list; `flaky` fails recoverably."""
    square = _task("square", python="exec_steps:square", inputs={"x": ("int", "${{ item }}")}, outputs={"result": "int"})
    square = ir.Task(**{**square.__dict__, "foreach": parse_template("${{ inputs.xs }}"), "when": parse_template("${{ inputs.go }}")})
    total = _task("total", python="exec_steps:total", inputs={"values": ("list[int]", "${{ tasks.square.outputs.result }}")}, outputs={"result": "int"})
    flaky = _task("flaky", python="exec_steps:flaky", outputs={"result": "int"}, retry=ir.RetryPolicy(1))
    inputs = (ir.WorkflowInput("go", parse_type("bool"), True, True), ir.WorkflowInput("xs", parse_type("list[int]"), True, [1, 2, 3]))
    return ir.Workflow("cluster-test", (square, total, flaky), inputs)


def _cluster_exec(store: RunStore, run_id: str, node: str, task: str, tether_env: dict[str, str], cwd: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    from tether.core.task_codec import encode_task

    workflow = _cluster_workflow()
    payload = encode_task(workflow.task(task), workflow)  # type: ignore[arg-type]
    argv = [sys.executable, "-m", "tether", "exec", "--store", store.uri, "--run", run_id, "--node", node, "--task", payload, *extra]
    environment = {**tether_env, "PYTHONPATH": os.pathsep.join([tether_env["PYTHONPATH"], TASKS_DIR]), **(env or {})}
    return subprocess.run(argv, env=environment, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cluster_decide_then_items_then_the_fan_in_with_no_run_record(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    decided = _cluster_exec(disk_store, "c1", "square", "square", tether_env, tmp_path, "--decide", "--outputs-dir", str(tmp_path / "d"), "--value", "inputs.xs=[4,5]")
    assert decided.returncode == 0, decided.stderr
    assert [(tmp_path / "d" / f).read_text() for f in ("when", "count", "items")] == ["true", "2", '[{"i":0,"v":4},{"i":1,"v":5}]']
    # A Batch array child: --node square + AWS_BATCH_JOB_ARRAY_INDEX; the item comes from the verdict.
    for i in (0, 1):
        done = _cluster_exec(disk_store, "c1", "square", "square", tether_env, tmp_path, "--outputs-dir", str(tmp_path / f"s{i}"), env={"AWS_BATCH_JOB_ARRAY_INDEX": str(i)})
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "s1" / "result").read_text() == "25"
    fan_in = _cluster_exec(disk_store, "c1", "total", "total", tether_env, tmp_path, "--outputs-dir", str(tmp_path / "t"), "--retries", "0")
    assert fan_in.returncode == 0, fan_in.stderr
    assert (tmp_path / "t" / "result").read_text() == "41" and disk_store.read_outputs("c1", "total") == {"result": 41}
    assert disk_store.load_run  # no run.json: the first exec recorded a cluster run instead
    assert not (Path(disk_store.root) / "runs" / "c1" / "run.json").exists()
    assert (Path(disk_store.root) / "runs" / "c1" / "cluster.json").exists()


def test_cluster_engine_values_win_and_a_false_when_skips_everything_downstream(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    item = _cluster_exec(disk_store, "c2", "square[0]", "square", tether_env, tmp_path, "--value", "item=7", "--outputs-dir", str(tmp_path / "o"))
    assert item.returncode == 0, item.stderr
    assert (tmp_path / "o" / "result").read_text() == "49"
    skipped = _cluster_exec(disk_store, "c3", "square[0]", "square", tether_env, tmp_path, "--value", "inputs.go=false", "--outputs-dir", str(tmp_path / "k"))
    assert skipped.returncode == 0 and not (tmp_path / "k").exists()
    assert disk_store.read_skipped("c3", "square") is not None and disk_store.attempts("c3", "square[0]") == []
    downstream = _cluster_exec(disk_store, "c3", "total", "total", tether_env, tmp_path, "--outputs-dir", str(tmp_path / "t"))
    assert downstream.returncode == 0 and "skipped" in downstream.stderr and not (tmp_path / "t").exists()


def test_cluster_retries_is_zero_based_and_the_budget_comes_from_the_journal(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    codes = [_cluster_exec(disk_store, "c4", "flaky", "flaky", tether_env, tmp_path, "--retries", str(n)).returncode for n in (0, 1)]
    assert codes == [75, 1]  # retries: 1 -> the second recoverable failure is fatal
    assert [a.number for a in disk_store.attempts("c4", "flaky")] == [1, 2]


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--input", "nope=1"), "has no input 'nope'"),
        (("--value", "tasks.x.outputs=1"), "not a reference"),
        (("--input", "values=[1,"), "is not a list[int] value"),
    ],
)
def test_cluster_usage_errors_record_nothing(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    result = _cluster_exec(disk_store, "c5", "total", "total", tether_env, tmp_path, *extra)
    assert result.returncode == 2 and message in result.stderr
    assert disk_store.list_runs() == []


def test_cluster_a_damaged_payload_is_a_usage_error(disk_store: RunStore, tether_env: dict[str, str], tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "tether", "exec", "--store", disk_store.uri, "--run", "c6", "--node", "total", "--task", "z1:AAAA"]
    result = subprocess.run(argv, env=tether_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "payload" in result.stderr


def test_conditional_create_keeps_the_first_writer(disk_store: RunStore, memory_store: RunStore) -> None:
    for store in (disk_store, memory_store):
        first = store.record_decision("r", "t", {"when": True, "items": [1]})
        second = store.record_decision("r", "t", {"when": False, "items": None})
        assert first == second == {"when": True, "items": [1]} == store.read_decision("r", "t")


def test_conditional_create_on_s3_keeps_the_first_writer(s3_bucket: tuple[str, dict]) -> None:
    bucket, options = s3_bucket
    store = RunStore(f"{bucket}/store", options)
    assert store.ensure_cluster_run("r", "wf-a", "a")["workflow"] == "wf-a"
    assert store.ensure_cluster_run("r", "wf-b", "b")["workflow"] == "wf-a"
