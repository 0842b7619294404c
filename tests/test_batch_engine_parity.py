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

from batch_helpers import EXAMPLES, ROOT, TEST_TARGET, compile_example, compile_spec
from engines.batch import RECLAIMED, BatchResult, Reclaim, run_plan
from tether.backends.batch_plan import bind_plan
from tether.runtime.store import RunStore

TETHER = [sys.executable, "-m", "tether"]
# example -> -p values (etl_conditional has its own test below: secrets and paths)
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


# etl_conditional.yaml's secrets, (name, key) -> a stand-in value. Batch injects each one from the
# ARN the plan gives (`secrets[].valueFrom`); `tether run` reads it from $TETHER_SECRETS_DIR/NAME/KEY
# (README "Secrets", runtime/task_env.py), the other way a local run takes secrets.
ETL_SECRETS = {("order-service", "api-token"): "tok-0rders", ("warehouse", "password"): "pw-wareh0use",
               ("warehouse", "user"): "etl-loader"}
ETL_SECRET_ENV = {"ORDER_SERVICE_TOKEN", "WAREHOUSE_PASSWORD", "WAREHOUSE_USER"}
# -p day= -> the conditional tasks that run (the example's comments: 2024-06-02 is a Sunday, with
# no orders); the others are skipped (load also because it reads the skipped transform's output).
ETL_DAYS = {"2024-06-03": {"transform", "load"}, "2024-06-02": {"report-empty"}}
ETL_BRANCHES = {"transform", "load", "report-empty"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _node_states(store: RunStore, run_id: str, data: Path) -> dict[str, Any]:
    """node -> outputs, or "skipped"; the run's own data directory written as <data>.

    A skip is recorded per node by `tether exec` (nodes/<task>/skipped.json) and in the run's
    status.json by `tether run`; either counts.
    """
    status = (store.read_status(run_id) or {}).get("nodes", {})
    states: dict[str, Any] = {n: "skipped" for n, s in status.items() if s.get("status") == "skipped"}
    for node in sorted(store.list_nodes(run_id)):
        outputs = store.read_outputs(run_id, node)
        if outputs is not None:
            states[node] = json.loads(json.dumps(outputs).replace(str(data), "<data>"))
        elif store.read_skipped(run_id, node) is not None:
            states[node] = "skipped"
    return dict(sorted(states.items()))


@pytest.mark.parametrize("day", sorted(ETL_DAYS))
def test_etl_conditional_on_batch_matches_tether_run(day: str, s3_store: tuple[str, dict[str, str]],
                                                    tmp_path: Path) -> None:
    """Both `when` branches, with secrets and `dir`/`file` values.

    Paths: each Batch job runs in its own working directory, so the spec's relative default
    directories would leave extract's file where validate cannot see it (on AWS: in another
    container). Each run gets absolute `staging_dir`/`warehouse_dir` under its own data root,
    as inputs; the comparison then (1) writes that root as <data> in path-valued outputs and
    (2) compares the files under both roots byte for byte, so paths and contents both count and
    neither run can pass on the other's files.
    """
    uri, env = s3_store
    plan, diags = compile_example("etl_conditional", store=uri, command=TETHER)
    assert not diags.has_errors
    arns = {f"{TEST_TARGET.secrets_arn_prefix}{name}:{key}::": value for (name, key), value in ETL_SECRETS.items()}
    assert {s["valueFrom"] for d in plan["jobDefinitions"] for s in d["containerProperties"].get("secrets", [])} == set(arns)

    def values(data: Path) -> dict[str, str]:
        return {"day": day, "staging_dir": str(data / "staging"), "warehouse_dir": str(data / "warehouse")}

    batch_data, local_data = tmp_path / "batch-data", tmp_path / "local-data"
    result = _run_batch(plan, "on-batch", values(batch_data), env, tmp_path / "batch", secrets=arns)
    assert set(result.jobs.values()) == {"SUCCEEDED"}, [(a.job_name, a.index, a.output[-800:]) for a in result.attempts]
    # Batch put each secret into the environment of the tasks that declare it, and only those.
    seen = {a.job_name: ETL_SECRET_ENV & set(a.env) for a in result.attempts}
    assert seen == {"extract": {"ORDER_SERVICE_TOKEN"}, "validate": set(), "transform": set(),
                    "load": {"WAREHOUSE_PASSWORD", "WAREHOUSE_USER"}, "report-empty": set()}
    assert result.attempts_of("load")[0].env["WAREHOUSE_PASSWORD"] == "pw-wareh0use"

    secrets_dir = tmp_path / "secrets"
    for (name, key), value in ETL_SECRETS.items():
        (secrets_dir / name).mkdir(parents=True, exist_ok=True)
        (secrets_dir / name / key).write_text(value, encoding="utf-8")
    local_env = {k: v for k, v in os.environ.items() if k not in ETL_SECRET_ENV}
    local = subprocess.run(
        [*TETHER, "run", str(EXAMPLES / "etl_conditional.yaml"), "--store", uri, "--run-id", "local",
         *(f"-p{k}={v}" for k, v in values(local_data).items())],
        env={**local_env, **env, "TETHER_SECRETS_DIR": str(secrets_dir)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )
    assert local.returncode == 0, local.stderr
    store = _store(uri, env)
    on_batch = _node_states(store, "on-batch", batch_data)
    assert on_batch == _node_states(store, "local", local_data)
    assert set(on_batch) == {"extract", "validate"} | ETL_BRANCHES, on_batch
    assert {node for node in ETL_BRANCHES if on_batch[node] != "skipped"} == ETL_DAYS[day], on_batch
    assert _tree(batch_data) and _tree(batch_data) == _tree(local_data)


SKIP_SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: skips}
spec:
  defaults: {image: "busybox:1.36"}
  tasks:
    gate:
      container: {command: [sh, -c], args: ['echo 0 > "$TETHER_OUTPUTS/n"']}
      outputs: {n: int}
    maybe:
      when: ${{ tasks.gate.outputs.n > 0 }}
      container: {command: [sh, -c], args: ['echo 1 > "$TETHER_OUTPUTS/x"']}
      outputs: {x: int}
    reader:
      inputs:
        x: ${{ tasks.maybe.outputs.x }}
      container: {command: [sh, -c], args: ['echo 2 > "$TETHER_OUTPUTS/y"']}
      outputs: {y: int}
    follower:
      after: [maybe]
      container: {command: [sh, -c], args: ['echo 3 > "$TETHER_OUTPUTS/z"']}
      outputs: {z: int}
"""


def test_a_skip_skips_readers_of_its_outputs_not_tasks_only_after_it(s3_store: tuple[str, dict[str, str]],
                                                                     tmp_path: Path) -> None:
    uri, env = s3_store
    spec = tmp_path / "skips.yaml"
    spec.write_text(SKIP_SPEC, encoding="utf-8")
    plan, diags = compile_spec(spec, store=uri, command=TETHER)
    assert not diags.has_errors
    result = _run_batch(plan, "on-batch", {}, env, tmp_path / "batch")
    # A skip is `tether exec` exiting 0: Batch sees every job succeed and runs the next ones.
    assert set(result.jobs.values()) == {"SUCCEEDED"}, [(a.job_name, a.output[-800:]) for a in result.attempts]
    local = subprocess.run([*TETHER, "run", str(spec), "--store", uri, "--run-id", "local"],
                           env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    store = _store(uri, env)
    on_batch = _node_states(store, "on-batch", tmp_path)
    assert on_batch == {"follower": {"z": 3}, "gate": {"n": 0}, "maybe": "skipped", "reader": "skipped"}
    assert on_batch == _node_states(store, "local", tmp_path)


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
