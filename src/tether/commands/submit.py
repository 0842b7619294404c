"""Submit a workflow to AWS Batch: register its job definitions, then submit its plan in order.

SPEC is compiled first (as `tether compile --target batch`); PLAN is a plan file that command
wrote (`*.json`). Each submission's `dependsOn` names earlier submissions by jobName, and the job
ids AWS returns are swapped in. Prints the run id and every job id (`--json`: one object).

Idempotent where AWS allows: job definition names are content-addressed, so a definition that
is already registered (ACTIVE) is reused, never registered again; with `--run-id` of a run that
was already (partly) submitted, jobs of that run still queued, running or succeeded are reused,
so a submission cut short can be finished by running the same command again. Needs boto3:
`pip install 'tether[aws]'`; AWS credentials and region come from the usual AWS configuration.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .check import EXIT_ERRORS, EXIT_OK
from .compile import parse_pairs

EXIT_USAGE = 2
_LIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
_PAGE = 100  # the most ListJobs returns in a page and DescribeJobs takes in a request (cited below)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SPEC|PLAN", help="a spec (as for compile) or a compiled plan (.json)")
    parser.add_argument("-t", "--target", default="batch", choices=["batch"], help="where to submit (batch)")
    parser.add_argument("--profile", metavar="FILE", help="profile file (store, image, batch: queues, roles, tags)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE", help="a target option")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a workflow input")
    parser.add_argument("--run-id", metavar="ID", help="the run id (default: a new one); reuse it to finish a submission")
    parser.add_argument("--region", metavar="REGION", help="AWS region (default: the AWS configuration's)")
    parser.add_argument("--unsupported", choices=["error", "warn"], default="error",
                        help="what Batch cannot express: an error (default) or a warning")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@dataclass
class Submitted:
    """What AWS received: definition name -> ARN, jobName -> job id (in submission order)."""

    run_id: str
    job_definitions: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "jobs": self.jobs, "job_definitions": self.job_definitions, "reused": self.reused}


def new_run_id(workflow: str) -> str:
    """`<workflow>-<UTC time>-<4 random bytes>`: sortable, unique, a valid store path part."""
    return f"{workflow}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"


def submit_plan(client: Any, plan: Mapping[str, Any], run_id: str) -> Submitted:
    """Register `plan`'s definitions (reusing ACTIVE ones) and submit its jobs in order.

    `plan` is bound already (`backends.batch_plan.bind_plan`); `client` is a boto3 Batch client.
    """
    out = Submitted(run_id=run_id)
    for definition in plan.get("jobDefinitions", []):
        name = definition["jobDefinitionName"]
        # https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobDefinitions.html
        found = client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE").get("jobDefinitions", [])
        if found:
            out.job_definitions[name] = max(found, key=lambda d: d["revision"])["jobDefinitionArn"]
        else:
            out.job_definitions[name] = client.register_job_definition(**definition)["jobDefinitionArn"]
    for sub in plan.get("submissions", []):
        request = dict(sub)
        request["jobDefinition"] = out.job_definitions.get(sub["jobDefinition"], sub["jobDefinition"])
        if "dependsOn" in sub:
            request["dependsOn"] = [{**d, "jobId": out.jobs[d["jobId"]]} if "jobId" in d else dict(d)
                                    for d in sub["dependsOn"]]
        existing = _existing_job(client, request, run_id)
        if existing is not None:
            out.jobs[sub["jobName"]] = existing
            out.reused.append(sub["jobName"])
            continue
        out.jobs[sub["jobName"]] = client.submit_job(**request)["jobId"]
    return out


def _existing_job(client: Any, request: Mapping[str, Any], run_id: str) -> str | None:
    """A live job of this run with this name (submitted by an earlier, interrupted submit)."""
    tags = request.get("tags", {})
    for ids in _live_jobs_named(client, request["jobQueue"], request["jobName"]):
        # DescribeJobs takes "a list of up to 100 job IDs":
        # https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html
        for start in range(0, len(ids), _PAGE):
            for job in client.describe_jobs(jobs=ids[start : start + _PAGE]).get("jobs", []):
                same_run = job.get("parameters", {}).get("run_id") == run_id or job.get("tags", {}).get("tether:run") == run_id
                if same_run and job.get("tags", {}).get("tether:barrier") == tags.get("tether:barrier"):
                    return str(job["jobId"])
    return None


def _live_jobs_named(client: Any, queue: str, name: str) -> Iterator[list[str]]:
    """Ids of the queue's live jobs named `name`, one ListJobs page at a time (newest first).

    https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html: with `filters`
    (JOB_NAME) every status is listed and results are sorted by createdAt, most recent first; the
    match is case-insensitive (so the name is compared again here); a page holds at most
    `maxResults` (1-100) jobs and a `nextToken` when more remain, so a queue with over 100
    earlier jobs of this name is read page by page until the run's job is found. A page is read
    only when the ones before it held no job of this run, so a recent run costs one request.
    """
    token: str | None = None
    while True:
        query: dict[str, Any] = {"jobQueue": queue, "filters": [{"name": "JOB_NAME", "values": [name]}], "maxResults": _PAGE}
        if token:
            query["nextToken"] = token
        page = client.list_jobs(**query)
        # An array child's id is "<parent id>:<index>" (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).
        ids = [j["jobId"] for j in page.get("jobSummaryList", [])
               if j.get("jobName") == name and j.get("status") in _LIVE and ":" not in j["jobId"]]
        if ids:
            yield ids
        token = page.get("nextToken")
        if not token:
            return


def run(args: argparse.Namespace) -> int:
    from ..backends.batch_plan import PlanBindError, bind_plan

    values = parse_pairs(args.param, "submit", "-p")
    if values is None:
        return EXIT_USAGE
    plan = _read_plan(Path(args.source)) if args.source.endswith(".json") else _compile(args)
    if plan is None:
        return EXIT_ERRORS
    workflow = _workflow_name(plan)
    run_id = args.run_id or new_run_id(workflow)
    try:
        bound = bind_plan(plan, run_id, values)
    except PlanBindError as exc:
        print(f"tether submit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for sub in bound.get("submissions", []):  # find this run's jobs again (idempotent resubmits)
        sub["tags"] = dict(sorted({**sub.get("tags", {}), "tether:run": run_id}.items()))
    try:
        import boto3
    except ImportError:
        print("tether submit: needs boto3: pip install 'tether[aws]'", file=sys.stderr)
        return EXIT_USAGE
    client = boto3.client("batch", region_name=args.region) if args.region else boto3.client("batch")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = submit_plan(client, bound, run_id)
    except (BotoCoreError, ClientError) as exc:
        print(f"tether submit: AWS Batch refused: {exc} (run {run_id}; run again with --run-id {run_id} "
              "to finish it)", file=sys.stderr)
        return EXIT_ERRORS
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"run {run_id}")
        for name, job_id in result.jobs.items():
            print(f"  {name}  {job_id}" + ("  (already submitted)" if name in result.reused else ""))
    return EXIT_OK


def _workflow_name(plan: Mapping[str, Any]) -> str:
    for sub in plan.get("submissions", []):
        name = sub.get("tags", {}).get("tether:workflow")
        if name:
            return str(name)
    return "run"


def _read_plan(path: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"tether submit: cannot read the plan {path}: {exc}", file=sys.stderr)
        return None
    if not isinstance(plan, dict) or not {"jobDefinitions", "submissions"} <= set(plan):
        print(f"tether submit: {path} is no Batch plan (jobDefinitions, submissions)", file=sys.stderr)
        return None
    return plan


def _compile(args: argparse.Namespace) -> dict[str, Any] | None:
    """Compile SPEC for batch exactly as `tether compile --target batch` does; None on errors."""
    from ..backends import get_backend
    from ..core.diagnostics import Diagnostics, Severity
    from .check import load_reporting, print_diagnostic_list, print_diagnostics, use_color

    color = use_color(sys.stderr)
    options = parse_pairs(args.option, "submit", "-O")
    if options is None:
        return None
    from .compile import check_option_keys

    if not check_option_keys(get_backend(args.target), args.target, options, "submit", "-O"):
        return None
    result = load_reporting(args.source, color)
    if result is None or result.workflow is None:
        if result is not None:
            print_diagnostics(result, color)
        return None
    print_diagnostics(result, color)
    backend = get_backend(args.target)
    diags = Diagnostics(unsupported_level=Severity.WARNING if args.unsupported == "warn" else Severity.ERROR)
    profile = _read_profile(args.profile, backend, options, diags)
    manifests = backend.compile(result.workflow, profile, diags) if not diags.has_errors else []
    print_diagnostic_list(diags.sorted(), result.sources, color)
    if diags.has_errors or not manifests:
        return None
    return dict(manifests[0].document)


def _read_profile(path: str | None, backend: Any, options: Mapping[str, str], diags: Any) -> Any:
    """The profile through the reader every target shares (backends.profile.load_profile)."""
    from ..backends import available_targets
    from ..backends.profile import load_profile

    return load_profile(path, backend.name, backend.profile_type, diags, options, sections=available_targets())
