"""The proof of `tether exec` on a cluster: every example runs by starting only `tether exec`
processes (tests/cluster.py is the engine), with the run store on a real S3 server (moto), and
its outputs equal those of `tether run` on the same inputs.

Injected: a SIGTERM into attempt 1 of an interruptible task (after its first checkpoint commit
where it checkpoints), and RecoverableErrors (the seed's own: checkpointing fails three times
before it returns 9).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import tether
from cluster import Injection, Cluster
from conftest import EXAMPLES, ROOT
from tether.compiler.load import load
from tether.core.graph import node_ids
from tether.runtime.params import anchor_paths
from tether.runtime.store import RunStore

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log: thousands of lines

CASES = [
    pytest.param("checkpointing.yaml", {"n_iterations": 10}, (), id="checkpointing-recoverable"),
    pytest.param("containers.yaml", {"shards": 3, "samples_per_shard": 20000}, (Injection("simulate[1]", 1),), id="containers-sigterm"),
    pytest.param("diamond.yaml", {}, (), id="diamond"),
    pytest.param("etl_conditional.yaml", {}, (), id="etl-weekday"),
    pytest.param("etl_conditional.yaml", {"day": "2024-06-02"}, (), id="etl-weekend-skips"),
    pytest.param("fanout_sweep.yaml", {"epochs": 20}, (Injection("trial[1]", 1),), id="fanout-sigterm"),
    pytest.param("ml_training.yaml", {"epochs": 10}, (Injection("train", 1),), id="ml-training-sigterm-after-checkpoint"),
]


def _env(tether_env: dict[str, str], options: dict[str, Any]) -> dict[str, str]:
    env = dict(tether_env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(EXAMPLES)])  # the image's code
    env["TETHER_STORE_OPTIONS"] = json.dumps(options)
    env.update(ORDER_SERVICE_TOKEN="dev", WAREHOUSE_USER="dev", WAREHOUSE_PASSWORD="dev")  # etl secrets
    return env


def _store_outputs(store: RunStore, run_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for node in store.list_nodes(run_id):
        outputs = store.read_outputs(run_id, node)
        if outputs is not None:
            found[node] = outputs
    return found


@pytest.mark.parametrize("example, params, injections", CASES)
def test_every_example_runs_on_exec_alone_and_matches_tether_run(
    example: str, params: dict[str, Any], injections: tuple[Injection, ...], s3_bucket: tuple[str, dict], tether_env: dict[str, str], tether_cmd: list[str], tmp_path: Path
) -> None:
    bucket, options = s3_bucket
    env = _env(tether_env, options)
    spec = str(EXAMPLES / example)
    workflow = load(spec).workflow
    assert workflow is not None

    local_store = tmp_path / "local"
    flags = [arg for name, value in params.items() for arg in ("-p", f"{name}={json.dumps(value) if not isinstance(value, str) else value}")]
    local_env = {k: v for k, v in env.items() if k != "TETHER_STORE_OPTIONS"}
    done = tether(tether_cmd, local_env, "run", spec, "--store", str(local_store), "--run-id", "local", *flags, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    local = RunStore(str(local_store), {})
    expected_nodes = _store_outputs(local, "local")
    expected_outputs = local.read_status("local")["outputs"]  # type: ignore[index]

    run_id = f"cluster-{uuid.uuid4().hex[:8]}"
    # `tether run` made the relative `dir`/`file` defaults absolute against its working directory;
    # a compiled workflow passes paths unchanged, so the cluster run is given the same values.
    anchored = anchor_paths(workflow, params, str(tmp_path))
    cluster = Cluster(workflow, f"{bucket}/runs", run_id, anchored, env, str(tmp_path), injections)
    states = cluster.run()

    s3 = RunStore(f"{bucket}/runs", options)
    assert _store_outputs(s3, run_id) == expected_nodes  # the store's view
    assert cluster.node_outputs() == expected_nodes  # the engine's view: only the files exec wrote
    assert cluster.workflow_outputs() == expected_outputs
    for injection in injections:
        task = injection.node.split("[")[0]
        index = int(injection.node.split("[")[1].rstrip("]")) if "[" in injection.node else 0
        assert states[task].nodes[index].codes[0] == 143
        outcomes = [a.outcome for a in s3.attempts(run_id, injection.node)]
        assert outcomes[0] == "interrupted" and outcomes[-1] == "success"
    if example == "checkpointing.yaml":
        assert states["use-checkpoint"].nodes[0].codes == [75, 75, 75, 0]
    for task in workflow.tasks:  # a skipped task is recorded as such, and never ran
        if states[task.name].skipped:
            assert s3.read_skipped(run_id, task.name) is not None
            assert not any(s3.attempts(run_id, n) for n in node_ids(task, 0 if task.foreach else None))

