"""`tether logs` and `tether report` of a cluster run: a run of `tether exec` attempts alone (as
Argo or AWS Batch start them), so the store has a journal, outputs and checkpoints but no
run.json, and no attempt's log (the platform keeps those)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.cli import main
from tether.compiler.load import load
from tether.core.task_codec import encode_task
from tether.runtime.cluster import ClusterRequest, exec_cluster
from tether.runtime.store import RunStore

TASKS_DIR = str(Path(__file__).resolve().parent / "exec_tasks")
SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: on-cluster}
spec:
  tasks:
    flaky: {python: "exec_steps:flaky", outputs: {result: int}, retries: 1}
    add: {python: "exec_steps:add", inputs: {a: 1, b: 2}, outputs: {result: int}}
"""


@pytest.fixture
def cluster_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(store, spec): run `c1` as a cluster runs it: add succeeds, flaky fails twice."""
    monkeypatch.syspath_prepend(TASKS_DIR)
    for variable in ("TETHER_ATTEMPT", "AWS_BATCH_JOB_ATTEMPT", "TETHER_STORE"):
        monkeypatch.delenv(variable, raising=False)
    spec = tmp_path / "on_cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    workflow = load(str(spec)).workflow
    assert workflow is not None
    store = str(tmp_path / "store")
    for node, retries in (("add", 0), ("flaky", 0), ("flaky", 1)):
        payload = encode_task(workflow.task(node), workflow)  # type: ignore[arg-type]
        exec_cluster(ClusterRequest(store_uri=store, run_id="c1", node=node, payload=payload, retries=retries))
    assert [a.outcome for a in RunStore(store).attempts("c1", "flaky")] == ["recoverable", "recoverable"]
    return store, str(spec)


def test_logs_of_a_cluster_run_say_where_the_logs_are(cluster_run: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = cluster_run
    assert main(["logs", "c1", "--store", store]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "==> add attempt 1 (success, exit 0) <=="  # the order they started in
    assert "==> flaky attempt 2 (recoverable, exit 1) <==" in out
    assert "(not in the run store: kept by the cluster): RecoverableError: the API said 503" in out
    assert "ran on a cluster" in err and "argo logs" in err and "/aws/batch/job" in err and "no run" not in err
    assert main(["logs", "c1", "flaky", "--attempt", "2", "--store", store]) == 0
    assert capsys.readouterr().out.startswith("==> flaky attempt 2 ")
    assert main(["logs", "c1", "nope", "--store", store]) == 1
    assert "nope: no attempt of it was recorded in run c1 (nodes: add, flaky)" in capsys.readouterr().err


def test_report_of_a_cluster_run_draws_it_from_the_spec_and_the_store(cluster_run: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, spec = cluster_run
    assert main(["report", "c1", "--store", store, "--json"]) == 1
    err = capsys.readouterr().err
    assert "ran on a cluster" in err and "--spec SPEC" in err and "no run" not in err
    assert main(["report", "c1", "--store", store, "--json", "--spec", spec]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "cluster" and data["workflow"] == "on-cluster"
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["add"]["outputs"] == {"result": 3} and nodes["add"]["inputs"]["values"] == {"a": 1, "b": 2}
    assert [a["outcome"] for a in nodes["flaky"]["attempts"]] == ["recoverable", "recoverable"]
    # retries: 1 spent by two recoverable failures: no attempt can come, so the run has failed
    assert nodes["flaky"]["status"] == "failed" and data["status"] == "failed"
    page = tmp_path / "report.html"
    assert main(["report", "c1", "--store", store, "--spec", spec, "-o", str(page)]) == 0
    assert "flaky" in page.read_text(encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(SPEC.replace("on-cluster", "elsewhere"), encoding="utf-8")
    assert main(["report", "c1", "--store", store, "--spec", str(other)]) == 1
    assert "is workflow 'elsewhere', but run c1 ran 'on-cluster'" in capsys.readouterr().err
