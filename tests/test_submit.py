"""`tether submit --target batch` against moto's AWS Batch, in this process.

What AWS received (DescribeJobs: dependsOn, arrayProperties, parameters) must be the workflow's
graph; registering twice must reuse the content-addressed definitions; submitting a run again
with its run id must reuse its jobs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from batch_helpers import EXAMPLES, compile_example  # noqa: E402
from tether.backends.batch_plan import bind_plan  # noqa: E402
from tether.cli import main  # noqa: E402
from tether.commands.submit import submit_plan  # noqa: E402
from tether.core.graph import foreach_known  # noqa: E402
from tether.compiler.load import load  # noqa: E402

REGION = "us-east-1"


@pytest.fixture
def batch() -> Iterator[Any]:
    """moto's Batch with an UNMANAGED compute environment and the two queues of the test profile."""
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        os.environ.setdefault(key, value)
    with moto.mock_aws(config={"batch": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("batch", region_name=REGION)
        env = client.create_compute_environment(computeEnvironmentName="tether-ce", type="UNMANAGED",
                                                state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
        for queue in ("tether-spot", "tether-on-demand"):
            client.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                                    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
        yield client


def _received(client: Any, job_ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    by_id = {v: k for k, v in job_ids.items()}
    jobs = client.describe_jobs(jobs=list(job_ids.values()))["jobs"]
    return {by_id[j["jobId"]]: j for j in jobs}


def test_the_graph_aws_received_is_the_workflows(batch: Any, tmp_path: Path) -> None:
    plan, _ = compile_example("fanout_sweep")
    result = submit_plan(batch, bind_plan(plan, "run-1", {}), "run-1")
    received = _received(batch, result.jobs)
    workflow = load(str(EXAMPLES / "fanout_sweep.yaml")).workflow
    assert workflow is not None
    for task in workflow.tasks:
        job = received[task.name]
        got = {by for by, jid in result.jobs.items() if jid in {d["jobId"] for d in job.get("dependsOn", [])}}
        assert got == set(task.upstream())
        known, items = foreach_known(task, workflow)
        if known and items is not None:
            assert job["arrayProperties"]["size"] == len(items)
        else:
            assert "size" not in job.get("arrayProperties", {})
        assert job["parameters"]["run_id"] == "run-1"


def test_diamond_dependencies_and_idempotent_registration(batch: Any) -> None:
    plan, _ = compile_example("diamond")
    first = submit_plan(batch, bind_plan(plan, "a", {}), "a")
    received = _received(batch, first.jobs)
    deps = {name: sorted(d["jobId"] for d in job.get("dependsOn", [])) for name, job in received.items()}
    assert deps["select-model"] == sorted([first.jobs["fit-mean"], first.jobs["fit-linear"]])
    assert deps["fit-linear"] == [first.jobs["make-dataset"]]
    assert received["fit-linear"]["jobQueue"].endswith("tether-spot")
    second = submit_plan(batch, bind_plan(plan, "b", {}), "b")
    assert second.job_definitions == first.job_definitions  # same names, same revisions: nothing registered
    revisions = batch.describe_job_definitions(jobDefinitionName=plan["jobDefinitions"][0]["jobDefinitionName"])
    assert len(revisions["jobDefinitions"]) == 1
    assert set(second.jobs.values()).isdisjoint(first.jobs.values())


def test_the_command_prints_run_and_job_ids(batch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, _ = compile_example("fanout_sweep")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    argv = ["submit", "--target", "batch", str(path), "--run-id", "r-1", "--region", REGION, "--json",
            "-p", 'grid=[{"lr": 0.1, "l2": 0.0}, {"lr": 0.2, "l2": 0.0}, {"lr": 0.3, "l2": 0.0}]']
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run_id"] == "r-1" and list(out["jobs"]) == ["trial", "pick-best"]
    received = _received(batch, out["jobs"])
    assert received["trial"]["arrayProperties"]["size"] == 3  # -p resized the fan-out
    # The same run again: its jobs are found and reused, none is submitted twice.
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["jobs"] == out["jobs"] and again["reused"] == ["trial", "pick-best"]


def test_a_missing_input_is_a_usage_error(batch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, _ = compile_example("checkpointing")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    assert main(["submit", str(path), "--region", REGION]) == 2
    assert "n_iterations" in capsys.readouterr().err


class PagedBatch:
    """moto's Batch client, with ListJobs paged as AWS pages it (moto returns every job at once):
    with `filters`, newest first, at most `maxResults` (1-100) jobs a page and a `nextToken` while
    more remain (https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html)."""

    def __init__(self, client: Any):
        self.client = client
        self.pages_read = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def list_jobs(self, maxResults: int = 100, nextToken: str | None = None, **query: Any) -> dict[str, Any]:
        assert 1 <= maxResults <= 100
        jobs = list(reversed(self.client.list_jobs(**query)["jobSummaryList"]))  # moto lists oldest first
        start = int(nextToken or 0)
        self.pages_read += 1
        page: dict[str, Any] = {"jobSummaryList": jobs[start : start + maxResults]}
        if start + maxResults < len(jobs):
            page["nextToken"] = str(start + maxResults)
        return page


def test_a_run_is_found_among_hundreds_of_jobs_of_the_same_name(batch: Any) -> None:
    plan, _ = compile_example("checkpointing")
    paged = PagedBatch(batch)
    first = {run: submit_plan(paged, bind_plan(plan, run, {"n_iterations": "3"}), run).jobs for run in
             (f"daily-{i:03d}" for i in range(130))}
    for run in ("daily-000", "daily-029", "daily-129"):  # newest first: on the second, second and first page
        again = submit_plan(paged, bind_plan(plan, run, {"n_iterations": "3"}), run)
        assert again.jobs == first[run] and again.reused == list(first[run])
    [name] = first["daily-000"]
    assert len(batch.list_jobs(jobQueue="tether-on-demand", filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]) == 130
    paged.pages_read = 0
    submit_plan(paged, bind_plan(plan, "daily-129", {"n_iterations": "3"}), "daily-129")
    assert paged.pages_read == 1  # the newest run's job is on the first page: no more is read
