"""Cluster attempt numbers when a run goes again under its run id (`tether submit --run-id` of a
failed Batch run, `argo retry`): the platform's count restarts at 1, the journal's does not.

An attempt whose platform number names an attempt that already ended continues after the journal
(as `tether run --resume` does), so no attempt's journal, log or checkpoints are written over, and
the budgets count every earlier attempt; an attempt delivered again (its number names the newest
attempt, which has no end) keeps its number. Each attempt here is one real `tether exec` (cluster
mode: `--task PAYLOAD`) in this process, on a store on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tether.core import ir
from tether.core.expr import Literal
from tether.core.task_codec import encode_task
from tether.core.types import parse_type
from tether.runtime.cluster import ClusterRequest, exec_cluster, journal_number
from tether.runtime.store import AttemptRecord, RunStore

TASKS_DIR = str(Path(__file__).resolve().parent / "exec_tasks")


def _task(python: str, **policies: Any) -> ir.Task:
    return ir.Task(name="step", python=python, outputs=(ir.Output("result", parse_type("int")),), **policies)


def _exec(store: RunStore, task: ir.Task, retries: int) -> int:
    """One attempt as Argo starts it: `--retries {{retries}}` (0-based)."""
    payload = encode_task(task, ir.Workflow("resubmitted", tasks=(task,)))
    return exec_cluster(ClusterRequest(store_uri=store.uri, run_id="r", node="step", payload=payload, retries=retries))


def _journal(store: RunStore) -> list[tuple[int, str | None]]:
    return [(a.number, a.outcome) for a in store.attempts("r", "step")]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.syspath_prepend(TASKS_DIR)  # the image's code
    for variable in ("TETHER_ATTEMPT", "AWS_BATCH_JOB_ATTEMPT"):
        monkeypatch.delenv(variable, raising=False)
    return RunStore(str(tmp_path / "store"))


def _records(*attempts: tuple[int, str | None]) -> list[AttemptRecord]:
    return [AttemptRecord(number=n, outcome=o, exit_code=None, started=None, ended=None, duration_s=None,
                          message="", checkpoint_seq=None) for n, o in attempts]


@pytest.mark.parametrize(
    "journal, platform, number",
    [
        ((), 1, 1),  # the first attempt
        (((1, "recoverable"),), 2, 2),  # the platform's retry
        (((1, "recoverable"),), 4, 4),  # a number past the journal is kept, gaps and all
        (((1, None),), 1, 1),  # the newest attempt, without an end, delivered again: same number
        (((1, "recoverable"), (2, "fatal")), 1, 3),  # a new go: its count restarted
        (((1, "recoverable"), (2, "fatal"), (3, "recoverable")), 2, 4),  # ... and its retry
        (((1, "recoverable"), (2, None)), 1, 3),  # not the newest: an earlier go's attempt
    ],
)
def test_journal_number(journal: tuple[tuple[int, str | None], ...], platform: int, number: int) -> None:
    assert journal_number(_records(*journal), platform) == number


def test_a_second_go_continues_the_journal_and_the_budget(store: RunStore) -> None:
    broken = _task("exec_steps:flaky", retry=ir.RetryPolicy(2))
    assert [_exec(store, broken, n) for n in (0, 1)] == [75, 75]
    first = store.attempts("r", "step")
    fixed = _task("exec_steps:broken", retry=ir.RetryPolicy(2))  # a second go (the code changed)
    assert _exec(store, fixed, 0) == 1  # fatal: uses no budget, and writes over nothing
    assert _journal(store) == [(1, "recoverable"), (2, "recoverable"), (3, "fatal")]
    assert store.attempts("r", "step")[:2] == first  # the first go's records are untouched
    # A third go: its first recoverable failure is the third of the run, past `retries: 2`.
    assert _exec(store, broken, 0) == 1
    assert _journal(store)[-1] == (4, "recoverable")
    assert "no retries left" in store.attempts("r", "step")[-1].message
    # And a go after that is refused before it runs, exactly as `tether run --resume` refuses it.
    assert _exec(store, broken, 0) == 1
    assert _journal(store)[-1] == (5, "fatal")
    assert "not started: the retry budget (2 retries) was already spent" in store.attempts("r", "step")[-1].message


def test_interruptions_of_an_earlier_go_count_against_the_interruption_budget(store: RunStore) -> None:
    task = _task("exec_steps:add", inputs=(ir.Binding("a", parse_type("int"), Literal(1)),
                                          ir.Binding("b", parse_type("int"), Literal(2))),
                 interruptible=ir.InterruptPolicy(2))
    store.ensure_cluster_run("r", "resubmitted", "step")
    for number in (1, 2):  # the first go: reclaimed twice, the job was then cancelled
        store.record_start("r", "step", number, {})
        store.record_end("r", "step", number, "interrupted", 143, {})
    assert _exec(store, task, 0) == 0  # the third start of the run: within max_interruptions 2
    assert _journal(store) == [(1, "interrupted"), (2, "interrupted"), (3, "success")]
    assert store.read_outputs("r", "step") == {"result": 3}


def test_the_newest_attempt_delivered_again_keeps_its_number(store: RunStore) -> None:
    task = _task("exec_steps:add", inputs=(ir.Binding("a", parse_type("int"), Literal(2)),
                                          ir.Binding("b", parse_type("int"), Literal(2))),
                 retry=ir.RetryPolicy(1))
    store.ensure_cluster_run("r", "resubmitted", "step")
    store.record_start("r", "step", 1, {})  # started, no end: its container is started again
    assert _exec(store, task, 0) == 0
    assert _journal(store) == [(1, "success")]


def test_a_resubmission_with_other_input_values_is_refused(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    """The first attempts of a run fix its inputs; jobs resubmitted under the same run id with
    other `-p` values (`--value inputs.n`, as Batch passes them) are refused, as `tether run
    --resume` refuses -p, so no run mixes the results of two sets of inputs."""
    from tether.core.expr import Ref

    def task(name: str) -> ir.Task:
        return ir.Task(name=name, python="exec_steps:add", outputs=(ir.Output("result", parse_type("int")),),
                       inputs=(ir.Binding("a", parse_type("int"), Ref("inputs", "n")), ir.Binding("b", parse_type("int"), Literal(1))))

    workflow = ir.Workflow("pinned", tasks=(task("one"), task("two")), inputs=(ir.WorkflowInput("n", parse_type("int")),))

    def run(name: str, value: str) -> int:
        payload = encode_task(workflow.task(name), workflow)  # type: ignore[arg-type]
        return exec_cluster(ClusterRequest(store_uri=store.uri, run_id="p", node=name, payload=payload, retries=0,
                                           values=(("inputs.n", value),)))

    assert run("one", "2") == 0
    assert run("two", "5") == 2
    assert "run p was started with inputs.n = 2, and this attempt was given 5" in capsys.readouterr().err
    assert run("two", "2") == 0
    assert store.read_outputs("p", "one") == store.read_outputs("p", "two") == {"result": 3}
