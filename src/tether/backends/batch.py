"""The `batch` target: AWS Batch job definitions plus a submission plan, as one JSON document.

    {"jobDefinitions": [RegisterJobDefinition requests], "submissions": [SubmitJob requests]}

Submissions come in topological order; each `dependsOn[].jobId` names an earlier submission by
its `jobName`, and `tether submit` swaps in the job ids AWS returns. Every job runs
`tether exec` (DESIGN.md, execution contract); the run id is the SubmitJob parameter `run_id`
(`Ref::run_id`), which `tether submit` fills in. Values between jobs travel through the run
store, never through Batch.

Decisions (README, "AWS Batch"):
- A `foreach` over a list known when the plan is submitted (a literal, or a workflow input;
  `tether submit -p` resizes it) is an array job. A list known only at run time (another task's
  output) is a located error: Batch fixes an array's size at SubmitJob, and fanning out from
  inside a run would need Batch API rights in every task role.
- `when` is evaluated by `tether exec`, which exits 0 as skipped.
- More than 20 dependencies: barrier jobs (`true`, each depending on at most 20) in between.
- Batch has no retry delay and at most 10 attempts: `backoff` and a budget past 10 attempts are
  `unsupported` diagnostics (`--unsupported=warn` drops the delay / caps at 10). Nor has it
  memoization: `cache` is a warning (E427), as a task run again costs time, never a wrong result.
- On Fargate, resources are rounded up to a valid vCPU/memory pair (FARGATE_SIZES); past the
  largest is `unsupported`. A job whose command cannot fit AWS's request limits is error E426.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.diagnostics import Diagnostics
from ..core.expr import Ref, refs
from ..core.graph import foreach_known
from ..core.ir import Task, Workflow, topological_order
from ..core.task_codec import encode_task
from ..core.values import encode_text
from . import Manifest, resolve_images, warn_without_store
from .batch_profile import BatchProfile, check_profile
from .profile import Profile

RUN_ID_PARAM = "run_id"
MAX_RUN_ID = 100
"""The longest run id (tether.runtime.store.RUN_ID_PATTERN): what the size check measures with."""
NODE_PARAM = "node"
INPUTS_PARAM = "tether_inputs"
"""A definition parameter no command references: the workflow's declared inputs and their types
(`{"name": {"type": "int"}, "req": {"type": "str", "required": true}}`), so `bind_plan` checks
`-p` values as `tether run -p` does, and accepts an input that no job reads."""
RUN_ID_PLACEHOLDER = "RUN_ID"
"""The plan's `run_id` parameter until `tether submit` (or a test) binds a real one."""

# https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html: "between 1 and 10".
MAX_ATTEMPTS = 10
# https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html (dependsOn):
# "A job can depend upon a maximum of 20 jobs."
MAX_DEPENDENCIES = 20
# https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html: "between 2 and 10,000".
MAX_ARRAY_SIZE = 10_000
# https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html: "The minimum value
# for the timeout is 60 seconds."
MIN_TIMEOUT_S = 60
# https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html
# (jobDefinitionName) and API_SubmitJob.html (jobName): up to 128 letters, numbers, - and _.
MAX_NAME = 128
# Batch starts each attempt as an ECS task whose command and environment are container overrides:
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html (overrides): "A total
# of 8192 characters are allowed for overrides. This limit includes the JSON formatting characters
# of the override structure." AWS Batch fails such a job with "Container Overrides length must be
# at most 8192", and refuses a SubmitJob over 30 KiB: "Job size must be less than 30 KiB"
# (both reported in https://github.com/ASFHyP3/hyp3/issues/3041). BATCH_ENV_RESERVE leaves room
# for the AWS_BATCH_* variables Batch adds to the overrides itself (job id, queue, CE, attempt,
# array index: https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html).
MAX_OVERRIDES = 8192
BATCH_ENV_RESERVE = 1024
MAX_JOB_BYTES = 30 * 1024

# DESIGN.md (AWS Batch) and https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html:
# exit 75 (RecoverableError; `tether exec` turns it into a fatal exit once the user budget is
# spent) and a reclaimed or failed instance ("Host EC2*", the statusReason AWS's own retry
# example matches: https://aws.amazon.com/blogs/compute/introducing-retry-strategies-for-aws-batch/)
# are retried, and so is exit 74, a run-store outage (`EXIT_STORE_FAILURE`, tether.runtime.entry:
# exec charges no budget for it; the attempt is run again as it was, spending one of `attempts`,
# as the Argo backend's retry expression does: backends/argo_retry.py); everything else exits. Rules are evaluated in order, first match wins
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html).
EVALUATE_ON_EXIT = (
    {"action": "RETRY", "onExitCode": "75"},
    {"action": "RETRY", "onExitCode": "74"},
    {"action": "RETRY", "onStatusReason": "Host EC2*"},
    # Fargate Spot reclaims a task with ECS's stopped reason "Your Spot Task was interrupted."
    # (reported in nextflow-io/nextflow#5786 and reproio/wrapbox#53); its container gets SIGTERM,
    # so exec has flushed the checkpoint and exits 143: an interruption, not a failure.
    {"action": "RETRY", "onStatusReason": "Your Spot Task was interrupted*"},
    {"action": "EXIT", "onReason": "*"},
)

# The smallest job each platform runs: a barrier only runs `true`. Fargate takes only its
# vCPU/memory pairs (FARGATE_SIZES); 0.25 vCPU with 512 MiB is the smallest.
_BARRIER_RESOURCES = {
    "EC2": (("VCPU", "1"), ("MEMORY", "128")),
    "FARGATE": (("VCPU", "0.25"), ("MEMORY", "512")),
}

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class BatchBackend:
    name: str = "batch"
    option_keys: tuple[str, ...] = ()  # it reads no -O key
    description: str = "AWS Batch job definitions and a submission plan (JSON)"
    profile_type: type | None = BatchProfile

    def compile(self, workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> list[Manifest]:
        plan = build_plan(workflow, profile, diagnostics)
        return [Manifest(path=f"{workflow.name}.batch.json", document=plan, format="json")]


backend = BatchBackend()


def build_plan(workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> dict[str, Any]:
    """The plan for `workflow`; what Batch cannot express goes to `diagnostics`."""
    target = profile.target if isinstance(profile.target, BatchProfile) else BatchProfile()
    store = profile.store
    warn_without_store(workflow, profile, diagnostics, "job")
    workflow = resolve_images(workflow, profile, diagnostics)
    check_profile(profile, target, diagnostics)
    builder = _PlanBuilder(workflow, target, store, diagnostics)
    for task in topological_order(workflow.tasks):
        builder.add_task(task)
    return {"jobDefinitions": builder.definitions, "submissions": builder.submissions}


def job_name(text: str) -> str:
    """A valid jobName / jobDefinitionName part: letters, digits, - and _ (others become -)."""
    return _NAME_CHARS.sub("-", text)[:MAX_NAME] or "job"


def input_param(name: str) -> str:
    """The SubmitJob parameter carrying workflow input `name` (`Ref::in_<name>`)."""
    return "in_" + job_name(name)


def content_addressed(prefix: str, body: dict[str, Any]) -> str:
    """`prefix-<12 hex of the body's SHA-256>`: the same definition gets the same name, so
    registering it again changes nothing a submission refers to."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
    return f"{job_name(prefix)[: MAX_NAME - 13]}-{digest}"


class _PlanBuilder:
    """Accumulates definitions and submissions, task by task in topological order."""

    def __init__(self, workflow: Workflow, target: BatchProfile, store: str | None, diagnostics: Diagnostics) -> None:
        self.workflow = workflow
        self.target = target
        self.store = store
        self.diagnostics = diagnostics
        self.definitions: list[dict[str, Any]] = []
        self.submissions: list[dict[str, Any]] = []
        self._defined: set[str] = set()
        self._sizes: dict[str, int | None] = {}  # task -> array size (None: a plain job)
        self._job_names: dict[str, str] = {}  # task -> jobName

    # -- one task ---------------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        size, sized_by = self._foreach_size(task)
        if task.cache is not None:
            # Batch has no memoization: every submitted job runs (API_SubmitJob.html has no
            # cache or result-reuse field); tether's cache lives in `tether run` only.
            # A warning, not E410: running a task again costs time, never a wrong result.
            self.diagnostics.warning(
                "E427", f"task '{task.name}' has `cache`; AWS Batch has no memoization, so it runs every time",
                task.span_of("cache"), "`tether run` and Argo (memoize) reuse its outputs; on Batch, remove `cache` to silence this",
            )
        definition = self._definition(task)
        name = self._define(definition, f"{self.target.name_prefix}{self.workflow.name}-{task.name}")
        submission: dict[str, Any] = {
            "jobName": self._unique_job_name(task.name),
            # Interruptible tasks go to spot capacity (DESIGN.md, AWS Batch).
            "jobQueue": self.target.spot_queue if task.interruptible is not None else self.target.on_demand_queue,
            "jobDefinition": name,
            "parameters": {RUN_ID_PARAM: RUN_ID_PLACEHOLDER},
        }
        if size == 1:  # Batch arrays have at least 2 children: one item is a plain job for node task[0]
            submission["parameters"][NODE_PARAM] = f"{task.name}[0]"
        elif size is not None:
            # https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html: child i sees
            # AWS_BATCH_JOB_ARRAY_INDEX=i, and `tether exec --node task` makes it node task[i].
            submission["arrayProperties"] = {"size": size}
        deps = self._dependencies(task)
        if deps:
            submission["dependsOn"] = deps
        tags = {**self.target.tags, "tether:workflow": self.workflow.name, "tether:task": task.name}
        if sized_by is not None:
            tags["tether:foreach-input"] = sized_by  # `tether submit -p` resizes the array from it
        submission["tags"] = dict(sorted(tags.items()))
        submission["propagateTags"] = True
        self._sizes[task.name] = size
        self._job_names[task.name] = submission["jobName"]
        self.submissions.append(submission)
        self._check_size(task, {"jobDefinitionName": name, **definition}, submission)

    def _check_size(self, task: Task, definition: dict[str, Any], submission: dict[str, Any]) -> None:
        """A located error when this job cannot fit AWS's request limits (see MAX_OVERRIDES),
        measured with the longest run id `tether submit` takes and its `tether:run` tag, so a
        plan that compiles is never refused at submit for its run id."""
        widest = {**submission, "parameters": {**submission.get("parameters", {}), RUN_ID_PARAM: "r" * MAX_RUN_ID},
                  "tags": {**submission.get("tags", {}), "tether:run": "r" * MAX_RUN_ID}}
        problem = size_problem(definition, widest)
        if problem is None:
            return
        params = definition.get("parameters", {})
        values = {k[len("in_"):]: len(v) for k, v in params.items() if k.startswith("in_")}
        payload = next((len(a) for a in definition["containerProperties"]["command"] if a.startswith("z")), 0)
        biggest = max(values, key=lambda k: values[k], default=None)
        if biggest is not None and values[biggest] > payload:
            declared = next((i for i in self.workflow.inputs if input_param(i.name) == "in_" + biggest), None)
            span, what = (declared.span if declared else None) or task.span, f"the default of input '{biggest}'"
        elif task.foreach is not None and not isinstance(task.foreach, Ref):
            span, what = task.span_of("foreach"), "its literal foreach list (carried in the task payload)"
        else:
            span, what = task.span, "the task definition (carried in the task payload)"
        self.diagnostics.error(
            "E426", f"task '{task.name}': {problem}; most of it is {what}", span,
            "pass a large value as a file (a `file` input in the store) or fan out over a workflow input",
        )

    def _foreach_size(self, task: Task) -> tuple[int | None, str | None]:
        """(array size or None, the workflow input that gives the list or None). A foreach over
        a required input has no size until `bind_plan` sets it from the `-p` value."""
        if task.foreach is None:
            return None, None
        known, items = foreach_known(task, self.workflow)
        span = task.span_of("foreach")
        ref = task.foreach
        if isinstance(ref, Ref) and ref.root == "inputs" and not ref.path and ref.name is not None:
            declared = self.workflow.input(ref.name)
            if declared is not None and not declared.has_default:
                return None, ref.name
        if not known or items is None:
            self.diagnostics.error(
                "E421", f"task '{task.name}': AWS Batch needs the foreach list when the plan is submitted, "
                "and this one is known only at run time", span,
                "fan out over a literal list or a workflow input (`tether submit -p` sets it), or use --target argo",
            )
            return None, None
        if not 1 <= len(items) <= MAX_ARRAY_SIZE:
            self.diagnostics.error(
                "E422", f"task '{task.name}': a foreach of {len(items)} items; an AWS Batch array job has "
                f"2 to {MAX_ARRAY_SIZE:,} children", span,
            )
            return None, None
        sized_by = ref.name if isinstance(ref, Ref) and ref.root == "inputs" else None
        return len(items), sized_by

    def _dependencies(self, task: Task) -> list[dict[str, str]]:
        names = [self._job_names[u] for u in task.upstream() if u in self._job_names]
        deps = [{"jobId": n} for n in sorted(set(names))]
        while len(deps) > MAX_DEPENDENCIES:
            deps = [{"jobId": self._barrier(task, deps[i : i + MAX_DEPENDENCIES], i // MAX_DEPENDENCIES)}
                    for i in range(0, len(deps), MAX_DEPENDENCIES)]
        return deps

    def _barrier(self, task: Task, deps: list[dict[str, str]], index: int) -> str:
        """A job that only waits: it succeeds when all of `deps` did, and fails with them."""
        body = {
            "type": "container",
            "containerProperties": {
                "image": task.image or "public.ecr.aws/docker/library/busybox:stable",
                "command": ["true"],
                "resourceRequirements": [{"type": k, "value": v} for k, v in _BARRIER_RESOURCES[self.target.platform]],
            },
            "platformCapabilities": [self.target.platform],
        }
        if self.target.platform == "FARGATE" and self.target.execution_role_arn:
            body["containerProperties"]["executionRoleArn"] = self.target.execution_role_arn
        name = self._define(body, f"{self.target.name_prefix}barrier")
        job = self._unique_job_name(f"{task.name}-barrier-{index}")
        self.submissions.append({
            "jobName": job, "jobQueue": self.target.on_demand_queue, "jobDefinition": name, "dependsOn": deps,
            "tags": dict(sorted({**self.target.tags, "tether:workflow": self.workflow.name,
                                 "tether:barrier": task.name}.items())),
        })
        return job

    def _unique_job_name(self, wanted: str) -> str:
        taken = {s["jobName"] for s in self.submissions}
        base = job_name(wanted)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base[: MAX_NAME - 4]}-{n}"
        return name

    def _define(self, body: dict[str, Any], prefix: str) -> str:
        name = content_addressed(prefix, body)
        if name not in self._defined:
            self._defined.add(name)
            self.definitions.append({"jobDefinitionName": name, **body})
        return name

    # -- the job definition -----------------------------------------------------------------

    def _definition(self, task: Task) -> dict[str, Any]:
        read = sorted({r.name for e in task.expressions() for r in refs(e) if r.root == "inputs" and r.name})
        command = [
            *self.target.command, "exec", *(["--store", self.store] if self.store else []),
            "--run", f"Ref::{RUN_ID_PARAM}", "--node", f"Ref::{NODE_PARAM}",
            "--task", encode_task(task, self.workflow),
        ]
        # A workflow input's value: whole-element `Ref::` placeholders (AWS substitutes whole
        # command elements: https://docs.aws.amazon.com/batch/latest/userguide/example-use-parameters.html),
        # whose value is the `--value` argument "inputs.X=TEXT" in engine text (contracts C3).
        parameters = {NODE_PARAM: task.name}
        if self.workflow.inputs:
            parameters[INPUTS_PARAM] = input_signature(self.workflow)
        for name in read:
            command += ["--value", f"Ref::{input_param(name)}"]
            declared = self.workflow.input(name)
            if declared is not None and declared.has_default:
                parameters[input_param(name)] = f"inputs.{name}={encode_text(declared.default, declared.type)}"
        props: dict[str, Any] = {
            "image": task.image,
            "command": command,
            "resourceRequirements": self._resources(task),
        }
        if props["image"] is None:
            props["image"] = "unset"  # resolve_images reported it
        environment = self._environment(task)
        if environment:
            props["environment"] = environment
        secrets = self._secrets(task)
        if secrets:
            props["secrets"] = secrets
        if self.target.job_role_arn:
            props["jobRoleArn"] = self.target.job_role_arn
        if self.target.execution_role_arn:
            props["executionRoleArn"] = self.target.execution_role_arn
        body: dict[str, Any] = {
            "type": "container",
            "parameters": dict(sorted(parameters.items())),
            "containerProperties": props,
            "retryStrategy": {"attempts": self._attempts(task), "evaluateOnExit": [dict(r) for r in EVALUATE_ON_EXIT]},
            "platformCapabilities": [self.target.platform],
            "propagateTags": True,
            "tags": dict(sorted({**self.target.tags, "tether:workflow": self.workflow.name,
                                 "tether:task": task.name}.items())),
        }
        timeout = self._timeout(task)
        if timeout is not None:
            body["timeout"] = {"attemptDurationSeconds": timeout}
        return body

    def _resources(self, task: Task) -> list[dict[str, str]]:
        # https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html:
        # values are strings; VCPU a whole number on EC2 (rounded up here, which only gives more),
        # MEMORY in MiB (at least 4), GPU a whole number of GPUs (none on Fargate).
        res = task.resources
        millicores = self.target.default_vcpus * 1000 if res.cpu_millicores is None else res.cpu_millicores
        memory = self.target.default_memory_mib if res.memory_bytes is None else max(4, math.ceil(res.memory_bytes / 2**20))
        if self.target.platform == "FARGATE":
            pair = fargate_pair(millicores, memory)
            if pair is None:
                self.diagnostics.unsupported(
                    f"task '{task.name}' asks for {millicores / 1000:g} vCPU and {memory} MiB; the largest AWS Batch "
                    f"job on Fargate has {FARGATE_SIZES[-1][0] / 1000:g} vCPU and {FARGATE_SIZES[-1][1][-1]} MiB",
                    task.span_of("resources"),
                    "ask for less, or use `platform: EC2` in the profile's batch section "
                    "(--unsupported=warn compiles the largest Fargate size)",
                )
                pair = FARGATE_SIZES[-1][0], FARGATE_SIZES[-1][1][-1]
            vcpus, memory = f"{pair[0] / 1000:g}", pair[1]
        else:
            vcpus = str(max(1, math.ceil(millicores / 1000)))
        out = [{"type": "MEMORY", "value": str(memory)}, {"type": "VCPU", "value": vcpus}]
        if res.gpu:
            if self.target.platform == "FARGATE":
                self.diagnostics.unsupported(
                    f"task '{task.name}' asks for {res.gpu} GPU; AWS Batch on Fargate has no GPUs",
                    task.span_of("resources"), "use `platform: EC2` in the profile's batch section",
                )
            else:
                out.insert(0, {"type": "GPU", "value": str(res.gpu)})
        return out

    def _environment(self, task: Task) -> list[dict[str, str]]:
        out = []
        for key, value in sorted(task.env):
            # https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html: AWS_BATCH_ is
            # a protected prefix "You can't use ... for your own variables".
            if key.startswith("AWS_BATCH"):
                self.diagnostics.error(
                    "E423", f"task '{task.name}': environment variable '{key}' uses AWS Batch's reserved "
                    "AWS_BATCH prefix", task.span_of("env"), "rename the variable",
                )
                continue
            out.append({"name": key, "value": value})
        return out

    def _secrets(self, task: Task) -> list[dict[str, str]]:
        if not task.secrets:
            return []
        prefix = self.target.secrets_arn_prefix
        span = task.span_of("secrets")
        if not prefix:
            self.diagnostics.error(
                "E424", f"task '{task.name}' reads secrets, and the profile gives no Secrets Manager ARN prefix",
                span, "set `batch: {secretsArnPrefix: 'arn:aws:secretsmanager:REGION:ACCOUNT:secret:'}`",
            )
            return []
        if not self.target.execution_role_arn:
            # https://docs.aws.amazon.com/batch/latest/userguide/specifying-sensitive-data-secrets.html:
            # the secrets are read with the job's execution role.
            self.diagnostics.error(
                "E424", f"task '{task.name}' reads secrets, and the profile gives no execution role to read them",
                span, "set `batch: {executionRoleArn: ...}` in the profile",
            )
        # Same page: valueFrom is arn:...:secret:secret-name:json-key:version-stage:version-id;
        # empty stage and id mean the current version. Only the reference is written, never a value.
        # `secret-name` without Secrets Manager's 6-character suffix is a partial ARN, which it
        # resolves when one secret matches (API_GetSecretValue.html, SecretId); ECS accepts the ARN
        # form, partial or full (aws/aws-cdk#11042, `Secret.fromSecretNameV2`), and the execution
        # role then needs GetSecretValue on `...:secret:NAME-*` (aws/aws-cdk#18555).
        return [{"name": s.env, "valueFrom": f"{prefix}{s.name}:{s.key}::"}
                for s in sorted(task.secrets, key=lambda s: s.env)]

    def _attempts(self, task: Task) -> int:
        # DESIGN.md: the platform sees 1 + N + M; `tether exec` keeps the two budgets apart from
        # the journal. A task that is not interruptible has no interruption budget.
        interruptions = task.interruptible.max_interruptions if task.interruptible is not None else 0
        attempts = 1 + task.retry.retries + interruptions
        if attempts > MAX_ATTEMPTS:
            self.diagnostics.unsupported(
                f"task '{task.name}' may need {attempts} attempts (1 + {task.retry.retries} retries + "
                f"{interruptions} interruptions); AWS Batch allows at most {MAX_ATTEMPTS}",
                task.span_of("retries") if task.retry.retries else task.span_of("interruptible"),
                f"lower retries or max_interruptions so they add up to at most {MAX_ATTEMPTS - 1}",
            )
            attempts = MAX_ATTEMPTS
        if task.retry.backoff is not None:
            self.diagnostics.unsupported(
                f"task '{task.name}': AWS Batch retries at once; it has no backoff between attempts",
                task.span_of("retries"), "remove `backoff`, or compile with --unsupported=warn to drop the delay",
            )
        return attempts

    def _timeout(self, task: Task) -> int | None:
        if task.timeout_s is None:
            return None
        if task.timeout_s < MIN_TIMEOUT_S:
            self.diagnostics.unsupported(
                f"task '{task.name}': a timeout of {task.timeout_s}s; AWS Batch's minimum is {MIN_TIMEOUT_S}s",
                task.span_of("timeout"), f"use a timeout of at least {MIN_TIMEOUT_S}s (--unsupported=warn rounds it up)",
            )
        return max(MIN_TIMEOUT_S, task.timeout_s)


def input_signature(workflow: Workflow) -> str:
    """INPUTS_PARAM's value: every declared input's type, and which have no default."""
    return json.dumps({i.name: {"type": str(i.type), **({} if i.has_default else {"required": True})}
                       for i in sorted(workflow.inputs, key=lambda i: i.name)}, sort_keys=True, separators=(",", ":"))


def resolved_command(definition: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """The command Batch runs: each whole `Ref::NAME` element replaced by the job's parameter, else
    the definition's default (an element with neither stays as written, as AWS leaves it)."""
    merged = {**definition.get("parameters", {}), **params}
    return [merged.get(arg[len("Ref::"):], arg) if arg.startswith("Ref::") else arg
            for arg in definition.get("containerProperties", {}).get("command", [])]


def size_problem(definition: Mapping[str, Any], submission: Mapping[str, Any]) -> str | None:
    """Why this job does not fit AWS's limits (MAX_OVERRIDES, MAX_JOB_BYTES), or None."""
    props = definition.get("containerProperties", {})
    command = resolved_command(definition, submission.get("parameters", {}))
    # Counted as AWS counts text: a Java string's length is in UTF-16 units (an emoji is 2), and
    # botocore sends the request as ASCII JSON (`json.dumps` with its default ensure_ascii=True,
    # botocore/serialize.py), where a non-ASCII character takes up to 12 bytes (`\\udXXX\\udXXX`).
    overrides = len(json.dumps({"command": command, "environment": props.get("environment", [])},
                               separators=(",", ":"), ensure_ascii=False).encode("utf-16-le")) // 2
    limit = MAX_OVERRIDES - BATCH_ENV_RESERVE
    if overrides > limit:
        return (f"its command and environment take {overrides:,} characters, and AWS Batch passes at most "
                f"{MAX_OVERRIDES:,} (less {BATCH_ENV_RESERVE:,} for its own variables) to the container")
    job = {**definition, **submission, "containerProperties": {**props, "command": command}}
    size = len(json.dumps(job, separators=(",", ":")))
    if size > MAX_JOB_BYTES:
        return f"the job takes {size:,} bytes, and AWS Batch submits jobs under {MAX_JOB_BYTES // 1024} KiB"
    return None


# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html (value, for
# VCPU and MEMORY on Fargate): each vCPU size takes only these MEMORY values (MiB); 8 and 16 vCPU
# need Fargate platform 1.4.0 (the LATEST one). Rows: (millicores, allowed MiB, ascending).
FARGATE_SIZES: tuple[tuple[int, tuple[int, ...]], ...] = (
    (250, (512, 1024, 2048)),
    (500, (1024, 2048, 3072, 4096)),
    (1000, tuple(range(2048, 8192 + 1, 1024))),
    (2000, tuple(range(4096, 16384 + 1, 1024))),
    (4000, tuple(range(8192, 30720 + 1, 1024))),
    (8000, tuple(range(16384, 61440 + 1, 4096))),
    (16000, tuple(range(32768, 122880 + 1, 8192))),
)


def fargate_pair(millicores: int, memory_mib: int) -> tuple[int, int] | None:
    """The smallest valid Fargate (millicores, MiB) covering both requests, or None when none does:
    memory is rounded up to the size's next step, and vCPU up when the memory needs a larger size."""
    for vcpu, memories in FARGATE_SIZES:
        if millicores <= vcpu and memory_mib <= memories[-1]:
            return vcpu, next(m for m in memories if m >= memory_mib)
    return None


__all__ = ["BatchBackend", "FARGATE_SIZES", "MAX_DEPENDENCIES", "RUN_ID_PLACEHOLDER", "backend", "build_plan", "content_addressed", "fargate_pair",
           "input_signature", "resolved_command", "size_problem"]
