"""The `batch:` section of a profile file: where AWS Batch runs a workflow's jobs.

Nothing about an AWS account is hard-coded in the backend; every account-specific value is
here, with a default a test account or a first try can live with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

from .profile import command_problem

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


# Single values AWS Batch refuses, checked where the profile writes them (profile.py `check`):
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html: VCPU "must
# specify at least one vCPU" (EC2), and "at least 4 MiB of memory for a job";
# API_SubmitJob.html: jobQueue is required (a queue name or ARN).
def _at_least_one_vcpu(value: int) -> str | None:
    return None if value >= 1 else f"is {value} vCPUs; a job needs at least 1"


def _at_least_4_mib(value: int) -> str | None:
    return None if value >= 4 else f"is {value} MiB; AWS Batch needs at least 4 MiB for a job"


def _queue(name: str) -> str | None:
    return None if name.strip() else "is empty; name a job queue (its name or ARN)"


def _tags(tags: Mapping[str, str]) -> str | None:
    for key, value in sorted(tags.items()):
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            return f"has '{key}': the `aws:` prefix is reserved for AWS in tag keys and values"
        if not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            return f"has '{key[:40]}': tag keys have 1 to {MAX_TAG_KEY} characters and values at most {MAX_TAG_VALUE}"
    if len(set(tags) | set(TETHER_TAGS)) > MAX_TAGS:
        total = len(set(tags) | set(TETHER_TAGS))
        return (f"has {len(tags)} tags, and tether adds up to {len(TETHER_TAGS)} of its own to every job: "
                f"{total}, and AWS Batch allows {MAX_TAGS} on a job with its definition's")
    return None


def _tether_command() -> list[str]:
    return ["tether"]


@dataclass(frozen=True)
class BatchProfile:
    """AWS Batch settings (profile keys in camelCase, e.g. `spotQueue`)."""

    spot_queue: str = field(
        default="tether-spot",
        metadata={"key": "spotQueue", "help": "job queue for interruptible tasks (spot compute environments)",
                  "check": _queue},
    )
    on_demand_queue: str = field(
        default="tether-on-demand",
        metadata={"key": "onDemandQueue", "help": "job queue for every other task", "check": _queue},
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
        default_factory=_no_tags,
        metadata={"help": "tags on every job definition and job", "check": _tags,
                  "hint": f"keep at most {MAX_TAGS - len(TETHER_TAGS)} tags, none starting with `aws:`"},
    )
    platform: Literal["EC2", "FARGATE"] = field(
        default="EC2", metadata={"help": "platformCapabilities of the job definitions"}
    )
    default_vcpus: int = field(
        default=1, metadata={"key": "defaultVcpus", "help": "VCPU of a task that requests no cpu", "check": _at_least_one_vcpu}
    )
    default_memory_mib: int = field(
        default=2048,
        metadata={"key": "defaultMemoryMiB", "help": "MEMORY (MiB) of a task that requests none", "check": _at_least_4_mib}
    )
    name_prefix: str = field(
        default="tether-", metadata={"key": "namePrefix", "help": "prefix of job definition names"}
    )
    command: list[str] = field(
        default_factory=_tether_command,
        metadata={"help": "how the image starts tether, e.g. [python3, -m, tether]", "check": command_problem},
    )


def check_profile(profile: Profile, target: BatchProfile, diagnostics: Diagnostics) -> None:
    """What no single profile value says (each value is checked where it is written, E132)."""
    # API_ContainerProperties.html (executionRoleArn): "For jobs that run on Fargate resources,
    # you must provide an execution role."
    if target.platform == "FARGATE" and not target.execution_role_arn:
        diagnostics.error(
            "E425", "profile batch.platform: jobs on Fargate need an execution role, and the profile gives none",
            profile.span_of("batch.platform") or profile.span_of("batch"),
            "set `batch: {executionRoleArn: arn:aws:iam::ACCOUNT:role/NAME}`",
        )


__all__ = ["BatchProfile", "MAX_TAGS", "TETHER_TAGS", "check_profile"]
