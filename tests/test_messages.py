"""What tether says when something goes wrong (or a flag could lie), asserted word for word.

Real `tether` subprocesses on small specs; the compiler's YAML messages have golden cases in
tests/diagnostics/ (E102_tab_indent, E112_memory_gb, E200_typing_spelling).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import tether

from tether.backends import available_targets

RUN_SPECS = Path(__file__).resolve().parent / "run_specs"

FLAKY = """\
apiVersion: tether/v1
kind: Workflow
metadata: {{name: flaky}}
spec:
  tasks:
    flaky:
      python: steps:flaky
      inputs: {{failures: {failures}}}
      outputs: {{result: int}}
      retries: 1
  outputs:
    attempt: ${{{{ tasks.flaky.outputs.result }}}}
"""

CONTAINER = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: cmd}
spec:
  tasks:
    cmd:
      image: python:3.12-slim
      container:
        command: [python3, -c]
        args: [SCRIPT]
      outputs: {result: int}
"""


def _spec(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    shutil.copy(RUN_SPECS / "steps.py", tmp_path / "steps.py")
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def _run(tether_cmd: list[str], env: dict[str, str], tmp_path: Path, spec: str, *args: str) -> subprocess.CompletedProcess[str]:
    return tether(tether_cmd, env, "run", spec, "--store", str(tmp_path / "store"), *args)


def _log(tmp_path: Path, node: str, attempt: int) -> str:
    (log,) = (tmp_path / "store").glob(f"runs/*/nodes/{node}/logs/{attempt:04d}.log")
    return log.read_text()


# ---------------------------------------------------------------------- flags that lie (item 5)


def test_dry_run_json_prints_the_plan_as_json_and_writes_nothing(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    spec = _spec(tmp_path, FLAKY.format(failures=1))
    done = _run(tether_cmd, tether_env, tmp_path, spec, "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["dry_run"] is True and plan["workflow"] == "flaky" and plan["run_id"] is None
    (task,) = plan["tasks"]
    assert task["name"] == "flaky" and task["runs"] == "python steps:flaky" and task["nodes"] == "1 node"
    assert task["inputs"] == {"failures": {"value": 1}}
    assert task["policy"] == "retries 1 (no backoff), not interruptible (an interruption uses a retry), no timeout"
    assert task["command"][:2] == ["tether", "exec"]
    assert plan["outputs"] == {"attempt": {"expression": "${{ tasks.flaky.outputs.result }}", "note": "known when flaky finishes"}}
    assert not (tmp_path / "store").exists()


def test_an_interrupt_that_never_fired_fails_the_run_and_says_so(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    spec = _spec(tmp_path, FLAKY.format(failures=1))
    done = _run(tether_cmd, tether_env, tmp_path, spec, "--interrupt", "flaky@3", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    why = "--interrupt flaky@3 never fired: flaky succeeded at attempt 2, so there was no attempt 3"
    assert result["status"] == "failed" and result["message"] == why
    assert f"tether run: {why}\n" in done.stderr


def test_tether_help_lists_only_targets_that_exist(tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = tether(tether_cmd, tether_env, "--help")
    match = re.search(r"compile a spec for a target \(([^)]*)\)", done.stdout)
    assert match is not None, done.stdout
    named = {word.strip() for word in match.group(1).split(",")}
    assert named <= {"ir", "local", *available_targets()}


# ---------------------------------------------------------------------- messages (item 8)


def test_a_recoverable_error_out_of_retries_is_recoverable_with_no_retries_left(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    spec = _spec(tmp_path, FLAKY.format(failures=2))
    done = _run(tether_cmd, tether_env, tmp_path, spec, "--json")
    assert done.returncode == 1
    node = json.loads(done.stdout)["nodes"]["flaky"]
    assert [(a["outcome"], a["exit_code"]) for a in node["attempts"]] == [("recoverable", 75), ("recoverable", 1)]
    assert node["message"] == "attempt 2 recoverable (exit 1): no retries left (1 of 1 used)"
    assert "(no retries left: the retry budget (1 retry) is spent)" in _log(tmp_path, "flaky", 2)


def test_a_failed_run_json_carries_the_failure_message_and_the_resume_hint_goes_to_unfinished_runs(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    failed = _run(tether_cmd, tether_env, tmp_path, _spec(tmp_path, (RUN_SPECS / "value_error.yaml").read_text()), "--json")
    node = json.loads(failed.stdout)["nodes"]["buggy"]
    assert node["message"] == "attempt 1 fatal (exit 1): ValueError: not a number (only tether.RecoverableError is retried)"
    assert "resume: tether run --resume" in failed.stderr
    succeeded = _run(tether_cmd, tether_env, tmp_path, _spec(tmp_path, FLAKY.format(failures=0), "ok.yaml"), "--json")
    assert succeeded.returncode == 0
    assert "message" not in json.loads(succeeded.stdout)["nodes"]["flaky"]
    assert "resume" not in succeeded.stderr


def test_a_container_s_own_exit_code_is_reported(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    spec = _spec(tmp_path, CONTAINER.replace("SCRIPT", '"import sys; sys.exit(3)"'))
    done = _run(tether_cmd, tether_env, tmp_path, spec, "--json")
    node = json.loads(done.stdout)["nodes"]["cmd"]
    assert node["message"] == "attempt 1 fatal (exit 3): the command exited 3 (only exit 75 is retried)"
    assert "cmd failed: attempt 1 fatal (exit 3): the command exited 3" in done.stderr


def test_an_output_a_container_wrote_but_did_not_declare_is_a_warning_naming_it(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    script = "import os; [open(os.path.join(os.environ['TETHER_OUTPUTS'], n), 'w').write('1') for n in ('result', 'resutl')]"
    spec = _spec(tmp_path, CONTAINER.replace("SCRIPT", json.dumps(script)))
    done = _run(tether_cmd, tether_env, tmp_path, spec)
    assert done.returncode == 0, done.stderr
    assert (
        "tether: warning: the command wrote $TETHER_OUTPUTS/resutl, which is not a declared output of cmd "
        "(declared: result); it is ignored\n"
    ) in _log(tmp_path, "cmd", 1)


def test_a_timeout_is_not_described_as_an_interruption(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = _run(tether_cmd, tether_env, tmp_path, _spec(tmp_path, (RUN_SPECS / "timeout.yaml").read_text()), "--json")
    assert done.returncode == 0, done.stderr
    log = _log(tmp_path, "hang", 1)
    assert "tether: attempt 1 of hang timed out after 1s; checkpoint kept (will retry: 0 of 1 retries left)" in log
    assert "interrupt" not in log


PYTHON_RETRY = """\
import tether


@tether.task(retry=3)
def a(x: int) -> int:
    return x


@tether.workflow
def wf(x: int) -> int:
    return a(x=x)
"""

PYTHON_FOREACH = """\
import tether


@tether.task
def a(x: int) -> int:
    return x


@tether.workflow
def wf(n: int) -> int:
    with tether.foreach(n) as x:
        a(x=x)
    return n
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            PYTHON_RETRY,
            "flow.py:4:1: error[E120]: importing 'flow.py' failed: TypeError: task() got an unexpected keyword argument 'retry'\n"
            "  |\n4 | @tether.task(retry=3)\n  | ^^^^^^^^^^^^^^^^^^^^^\n"
            "  = hint: did you mean retries=...? tether.task() takes name, retries, interruptible, checkpoint, "
            "resources, timeout, cache, image, env, secrets\n",
        ),
        (
            PYTHON_FOREACH,
            "flow.py:11:10: error[E204]: 'foreach' of task 'a' must be a list, not int\n"
            "   |\n11 |     with tether.foreach(n) as x:\n   |          ^^^^^^^^^^^^^^^^^\n"
            "   = hint: fan out over a list: `with tether.foreach(split(data).shards) as shard: ...`\n",
        ),
    ],
    ids=["retry-did-you-mean", "python-foreach-hint"],
)
def test_python_spec_messages(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str], source: str, expected: str) -> None:
    (tmp_path / "flow.py").write_text(source)
    done = tether(tether_cmd, tether_env, "check", "flow.py:wf", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(expected), done.stderr
