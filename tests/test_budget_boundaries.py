"""Each retry budget held at its boundary: `retries: N` allows exactly N recoverable failures and
`max_interruptions: M` exactly M interruptions; one more ends the task. Off-by-one changes to
the comparisons in runtime/retry.py or runtime/outcome.py fail these tests.

Also: a cancelled attempt (its run stopped, or lost with a dead `tether run`) uses no budget,
while on a cluster an attempt that vanished (a start without an end) is an interruption.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_helpers import tether
from runtime_helpers import RUN_SPECS
from tether.core.ir import InterruptPolicy, RetryPolicy, Task
from tether.runtime.outcome import Budget
from tether.runtime.retry import budgets, next_step
from tether.runtime.store import AttemptRecord


def _attempts(*outcomes: str | None) -> list[AttemptRecord]:
    return [AttemptRecord(i, o, None, None, None, None, "", None) for i, o in enumerate(outcomes, 1)]


def _task(retries: int = 0, max_interruptions: int | None = None) -> Task:
    interruptible = InterruptPolicy(max_interruptions) if max_interruptions is not None else None
    return Task("t", python="m:f", retry=RetryPolicy(retries), interruptible=interruptible)


@pytest.mark.parametrize("allowed", [0, 1, 2, 3])
@pytest.mark.parametrize("lost", [False, True])
def test_max_interruptions_m_survives_m_interruptions_and_ends_at_m_plus_1(allowed: int, lost: bool) -> None:
    task = _task(retries=0, max_interruptions=allowed)
    outcome = None if lost else "interrupted"  # a vanished attempt on a cluster counts the same
    for used in range(1, allowed + 1):
        verdict = next_step(task, _attempts(*[outcome] * used))
        assert verdict.retry, (used, verdict)
        assert Budget.from_journal(task, _attempts(*[outcome] * used), used + 1).overdrawn() is None
    verdict = next_step(task, _attempts(*[outcome] * (allowed + 1)))
    assert not verdict.retry and "too many interruptions" in verdict.reason
    refusal = Budget.from_journal(task, _attempts(*[outcome] * (allowed + 1)), allowed + 2).overdrawn()
    assert refusal is not None and "interruption budget" in refusal


@pytest.mark.parametrize("allowed", [0, 1, 2, 3])
@pytest.mark.parametrize("outcome", ["recoverable", "timeout"])
def test_retries_n_survives_n_failures_and_ends_at_n_plus_1(allowed: int, outcome: str) -> None:
    task = _task(retries=allowed, max_interruptions=5)
    for used in range(1, allowed + 1):
        assert next_step(task, _attempts(*[outcome] * used)).retry
        budget = Budget.from_journal(task, _attempts(*[outcome] * used), used + 1)
        assert budget.overdrawn() is None
        assert budget.after_recoverable()[0] == (used < allowed)  # this attempt's own failure
    assert not next_step(task, _attempts(*[outcome] * (allowed + 1))).retry
    refusal = Budget.from_journal(task, _attempts(*[outcome] * (allowed + 1)), allowed + 2).overdrawn()
    assert refusal is not None and "retry budget" in refusal


@pytest.mark.parametrize("allowed", [0, 1, 2])
def test_a_task_that_is_not_interruptible_pays_interruptions_from_its_retries(allowed: int) -> None:
    task = _task(retries=allowed)
    for used in range(1, allowed + 1):
        assert next_step(task, _attempts(*["interrupted"] * used)).retry
    assert not next_step(task, _attempts(*["interrupted"] * (allowed + 1))).retry
    assert not next_step(task, _attempts(*[None] * (allowed + 1))).retry  # lost on a cluster: the same


def test_cancelled_attempts_use_no_budget_at_all() -> None:
    task = _task(retries=0, max_interruptions=0)
    history = _attempts(*["cancelled"] * 7)
    assert budgets(task, history).user_used == budgets(task, history).interruptions_used == 0
    assert Budget.from_journal(task, history, 8).overdrawn() is None
    assert Budget.from_journal(_task(retries=0), history, 8).overdrawn() is None


def test_the_two_budgets_are_counted_apart() -> None:
    task = _task(retries=1, max_interruptions=1)
    mixed = _attempts("interrupted", "recoverable")
    assert next_step(task, mixed).retry  # one of each: both at their limit, neither over
    assert not next_step(task, _attempts("interrupted", "recoverable", "recoverable")).retry
    assert not next_step(task, _attempts("recoverable", "interrupted", "interrupted")).retry


# ---------------------------------------------------------------------- through `tether run`


def test_tether_run_allows_exactly_max_interruptions(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    spec = str(RUN_SPECS / "resumable.yaml")  # train: interruptible, max_interruptions: 2, retries: 0
    for interrupts, expected in ((2, "succeeded"), (3, "failed")):
        store = str(tmp_path / f"store{interrupts}")
        flags = [arg for k in range(1, interrupts + 1) for arg in ("--interrupt", f"train@{k}")]
        result = tether(tether_cmd, tether_env, "run", spec, "--store", store, "-p", "steps=6", *flags, "--json")
        report = json.loads(result.stdout)
        assert report["status"] == expected, result.stderr
        outcomes = [a["outcome"] for a in report["nodes"]["train"]["attempts"]]
        if expected == "succeeded":
            assert outcomes == ["interrupted", "interrupted", "success"]
        else:
            assert outcomes == ["interrupted"] * 3 and result.returncode == 1
            assert "too many interruptions (3, 2 allowed)" in result.stderr


FLAKY = """
apiVersion: tether/v1
kind: Workflow
metadata: {name: flaky-n}
spec:
  inputs:
    failures: {type: int}
  tasks:
    flaky:
      python: steps:flaky
      inputs: {failures: "${{ inputs.failures }}"}
      outputs: {result: int}
      retries: 2
  outputs:
    attempt: ${{ tasks.flaky.outputs.result }}
"""


def test_tether_run_allows_exactly_n_retries(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    shutil.copy(RUN_SPECS / "steps.py", tmp_path / "steps.py")
    (tmp_path / "flaky_n.yaml").write_text(FLAKY)
    for failures, expected in ((2, "succeeded"), (3, "failed")):
        store = str(tmp_path / f"store{failures}")
        argv = ["run", str(tmp_path / "flaky_n.yaml"), "--store", store, "-p", f"failures={failures}", "--json"]
        report = json.loads(tether(tether_cmd, tether_env, *argv).stdout)
        assert report["status"] == expected
        outcomes = [a["outcome"] for a in report["nodes"]["flaky"]["attempts"]]
        assert outcomes[:2] == ["recoverable", "recoverable"] and len(outcomes) == 3  # never a 4th attempt
        assert outcomes[2] == "success" if failures == 2 else outcomes[2] != "success"
