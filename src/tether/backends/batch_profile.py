"""The `batch:` section of a profile file: where AWS Batch runs a workflow's jobs.

Nothing about an AWS account is hard-coded in the backend; every account-specific value is
here, with a default a test account or a first try can live with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping


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


__all__ = ["BatchProfile"]
