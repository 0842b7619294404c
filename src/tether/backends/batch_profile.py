"""The `batch:` section of a profile file: where AWS Batch runs a workflow's jobs.

Nothing about an AWS account is hard-coded in the backend; every account-specific value is
here, with a default a test account or a first try can live with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:
    from ..core.diagnostics import Diagnostics
    from .profile import Profile

# https://docs.aws.amazon.com/batch/latest/userguide/tag-restrictions.html: at most 50 tags per
# resource; keys of 1..128 and values of 0..256 characters; an `aws:` prefix (any case) is
# reserved for AWS. https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
# (propagateTags): "If the total number of combined tags from the job and job definition is over
# 50, the job is moved to the FAILED state."
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
TETHER_TAGS = ("tether:workflow", "tether:task", "tether:foreach-input", "tether:run")
"""The most tags tether adds to one job (a barrier job has `tether:barrier` for `tether:task`);
`tether:run` is added by `tether submit`."""


def _no_tags() -> dict[str, str]:
    return {}


def _tether_command() -> list[str]:
    return ["tether"]


@dataclass(frozen=True)
class BatchProfile:
    """AWS Batch settings (profile keys in camelCase, e.g. `spotQueue`)."""

    spot_queue: str = field(
        default="tether-spot",
        metadata={"key": "spotQueue", "help": "job queue for interruptible tasks (spot compute environments)"},
    )
    on_demand_queue: str = field(
        default="tether-on-demand",
        metadata={"key": "onDemandQueue", "help": "job queue for every other task"},
    )
    job_role_arn: str | None = field(
        default=None, metadata={"key": "jobRoleArn", "help": "IAM role the task assumes (reads/writes the store)"}
    )
    execution_role_arn: str | None = field(
        default=None,
        metadata={"key": "executionRoleArn", "help": "IAM role ECS uses to pull images and read secrets"},
    )
    secrets_arn_prefix: str | None = field(
        default=None,
        metadata={
            "key": "secretsArnPrefix",
            "help": "Secrets Manager ARN prefix, e.g. arn:aws:secretsmanager:REGION:ACCOUNT:secret: ; "
            "a task secret {name, key} becomes PREFIX<name>:<key>::",
        },
    )
    tags: Mapping[str, str] = field(
        default_factory=_no_tags, metadata={"help": "tags on every job definition and job"}
    )
    platform: Literal["EC2", "FARGATE"] = field(
        default="EC2", metadata={"help": "platformCapabilities of the job definitions"}
    )
    default_vcpus: int = field(
        default=1, metadata={"key": "defaultVcpus", "help": "VCPU of a task that requests no cpu"}
    )
    default_memory_mib: int = field(
        default=2048, metadata={"key": "defaultMemoryMiB", "help": "MEMORY (MiB) of a task that requests none"}
    )
    name_prefix: str = field(
        default="tether-", metadata={"key": "namePrefix", "help": "prefix of job definition names"}
    )
    command: list[str] = field(
        default_factory=_tether_command,
        metadata={"help": "how the image starts tether, e.g. [python3, -m, tether]"},
    )


def check_profile(profile: Profile, target: BatchProfile, diagnostics: Diagnostics) -> None:
    """Profile values AWS Batch would refuse (or that would start no tether), located at the
    profile key; a value the file does not set falls back to the `batch` section or no span."""

    def bad(key: str, message: str, hint: str) -> None:
        span = profile.span_of(f"batch.{key}") or profile.span_of("batch")
        diagnostics.error("E425", f"profile batch.{key}: {message}", span, hint)

    # https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html: VCPU
    # "must specify at least one vCPU" (EC2), and "at least 4 MiB of memory for a job".
    if target.default_vcpus < 1:
        bad("defaultVcpus", f"{target.default_vcpus} vCPUs; a job needs at least 1", "set `defaultVcpus: 1` or more")
    if target.default_memory_mib < 4:
        bad("defaultMemoryMiB", f"{target.default_memory_mib} MiB; AWS Batch needs at least 4 MiB for a job",
            "set `defaultMemoryMiB: 2048`, for example")
    # API_SubmitJob.html: jobQueue is required (a queue name or ARN).
    for key, queue in (("spotQueue", target.spot_queue), ("onDemandQueue", target.on_demand_queue)):
        if not queue.strip():
            bad(key, "an empty job queue name", "name a job queue (its name or ARN)")
    if not target.command or not all(part.strip() for part in target.command):
        bad("command", "every job runs `<command> exec ...`, and this command is empty or has an empty part",
            "set `command: [tether]` or how the image starts tether, e.g. [python3, -m, tether]")
    # API_ContainerProperties.html (executionRoleArn): "For jobs that run on Fargate resources,
    # you must provide an execution role."
    if target.platform == "FARGATE" and not target.execution_role_arn:
        bad("platform", "jobs on Fargate need an execution role, and the profile gives none",
            "set `batch: {executionRoleArn: arn:aws:iam::ACCOUNT:role/NAME}`")
    for key, value in sorted(target.tags.items()):
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            bad(f"tags.{key}", "the `aws:` prefix is reserved for AWS in tag keys and values", "rename the tag")
        if not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            bad(f"tags.{key}", f"tag keys have 1 to {MAX_TAG_KEY} characters and values at most {MAX_TAG_VALUE}",
                "shorten the tag")
    total = len(set(target.tags) | set(TETHER_TAGS))
    if total > MAX_TAGS:
        bad("tags", f"{len(target.tags)} tags, and tether adds up to {len(TETHER_TAGS)} of its own to every job: "
            f"{total} tags, and AWS Batch allows {MAX_TAGS} on a job with its definition's",
            f"keep at most {MAX_TAGS - len(TETHER_TAGS)} tags in the profile")


__all__ = ["BatchProfile", "MAX_TAGS", "TETHER_TAGS", "check_profile"]
