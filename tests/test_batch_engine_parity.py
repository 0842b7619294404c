"""Examples compiled to AWS Batch and run by the test Batch engine (tests/engines/batch.py) give
the same node outputs as `tether run`, with the run store on a real S3 server (moto).

Each job's command is the compiled `tether exec` (run by this interpreter: the profile's
`command`), with PYTHONPATH standing in for the image's code. Examples Batch refuses at compile
time (a foreach known only at run time) are covered by their diagnostics goldens instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batch_helpers import EXAMPLES, ROOT, compile_example, compile_spec
from engines.batch import RECLAIMED, BatchResult, Reclaim, run_plan
from tether.backends.batch_plan import bind_plan
from tether.runtime.store import RunStore

TETHER = [sys.executable, "-m", "tether"]
# example -> (-p values, secrets its tasks read by environment variable)
CASES: dict[str, dict[str, str]] = {
    "checkpointing": {"n_iterations": "10"},
    "diamond": {},
    "fanout_sweep": {},
}


@pytest.fixture
def s3_store(s3_bucket: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """(store URI, environment every job and `tether run` get to reach it)."""
    bucket, options = s3_bucket
    env = {
        "TETHER_STORE_OPTIONS": json.dumps(options),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(EXAMPLES)]),
        "NO_COLOR": "1",
    }
    return f"{bucket}/runs", env


def _store(uri: str, env: dict[str, str]) -> RunStore:
    return RunStore(uri, json.loads(env["TETHER_STORE_OPTIONS"]))


def _run_batch(plan: dict[str, Any], run_id: str, values: dict[str, str], env: dict[str, str], workdir: Path,
               **kw: Any) -> BatchResult:
    bound = bind_plan(plan, run_id, values)
    return run_plan(bound, env=env, workdir=workdir, max_parallel=2, **kw)


def _outputs(store: RunStore, run_id: str) -> dict[str, Any]:
    return {node: store.read_outputs(run_id, node) for node in sorted(store.list_nodes(run_id))}


@pytest.mark.parametrize("stem", sorted(CASES))
def test_example_on_batch_matches_tether_run(stem: str, s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    values = CASES[stem]
    plan, diags = compile_example(stem, store=uri, command=TETHER)
    assert not diags.has_errors
    result = _run_batch(plan, "on-batch", values, env, tmp_path / "batch")
    assert set(result.jobs.values()) == {"SUCCEEDED"}, [(a.job_name, a.index, a.output[-800:]) for a in result.attempts]
    local = subprocess.run(
        [*TETHER, "run", str(EXAMPLES / f"{stem}.yaml"), "--store", uri, "--run-id", "local",
         *(f"-p{k}={v}" for k, v in values.items())],
        env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert local.returncode == 0, local.stderr
    store = _store(uri, env)
    on_batch = _outputs(store, "on-batch")
    assert on_batch and on_batch == _outputs(store, "local")


def test_the_seed_returns_9_after_4_attempts(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    plan, _ = compile_example("checkpointing", store=uri, command=TETHER)
    result = _run_batch(plan, "seed", {"n_iterations": "10"}, env, tmp_path)
    attempts = result.attempts_of("use-checkpoint")
    assert [a.exit_code for a in attempts] == [75, 75, 75, 0]
    assert [a.env["AWS_BATCH_JOB_ATTEMPT"] for a in attempts] == ["1", "2", "3", "4"]
    assert _store(uri, env).read_outputs("seed", "use-checkpoint") == {"result": 9}


RECLAIMED_SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: reclaimed}
spec:
  tasks:
    spot:
      image: busybox:1.36
      container:
        command: [sh, -c]
        # The first attempt outlives the reclaim; a later one finishes at once.
        args: ['if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 120; fi; echo 7 > "$TETHER_OUTPUTS/x"']
      outputs: {x: int}
      retries: 0
      interruptible: {max_interruptions: 2}
"""


def test_a_reclaim_is_retried_without_using_a_user_retry(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    spec = tmp_path / "reclaimed.yaml"
    spec.write_text(RECLAIMED_SPEC, encoding="utf-8")
    plan, diags = compile_spec(spec, store=uri, command=TETHER)
    assert not diags.has_errors
    assert plan["submissions"][0]["jobQueue"] == "tether-spot"
    result = _run_batch(plan, "reclaim", {}, env, tmp_path / "work", reclaims=[Reclaim("spot", attempt=1, after_s=3.0)])
    first, second = result.attempts_of("spot")
    assert (first.status_reason, first.exit_code, first.action) == (RECLAIMED, None, "RETRY")
    assert second.exit_code == 0 and result.jobs["spot"] == "SUCCEEDED"
    store = _store(uri, env)
    # retries: 0, so had the reclaim used a user retry there would be no second attempt to succeed.
    # The reclaim may strike before exec journals attempt 1 (then there is no record of it) or
    # after (then it is an interruption); it is never a recoverable failure or a fatal one.
    outcomes = [r.outcome for r in store.attempts("reclaim", "spot")]
    assert outcomes in (["interrupted", "success"], ["success"]), outcomes
    assert store.read_outputs("reclaim", "spot") == {"x": 7}
