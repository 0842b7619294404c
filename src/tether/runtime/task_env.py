"""The environment variables a task attempt runs with: identity, the task's `env`, its secrets.

Secrets are referenced by name in a spec, never by value. On Argo and AWS Batch the platform
injects each one as the environment variable the spec names (a Kubernetes secretKeyRef, a
Batch `secrets` entry), so an attempt finds it already set. On this machine the same rule
holds first; when the variable is not set, the value is read from a file:

    $TETHER_SECRETS_DIR/<name>/<key>     (default: .tether/secrets/<name>/<key> in the working directory)

one file per key: the layout of a Kubernetes secret mounted as a volume. Secret values
are put in the task's environment only: never in the run store, the journal, or a log line
tether writes (a message or traceback that quotes one is masked with `redact`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..core.ir import Secret, Task

SECRETS_DIR_ENV = "TETHER_SECRETS_DIR"
DEFAULT_SECRETS_DIR = os.path.join(".tether", "secrets")


class SecretNotFound(Exception):
    """A secret the task declares has no value here (the message says where it was looked for)."""


def secrets_dir() -> str:
    return os.environ.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR


def secret_value(secret: "Secret") -> str:
    """The secret's value: its environment variable if set, else the local secret file."""
    value = os.environ.get(secret.env)
    if value is not None:
        return value
    path = os.path.join(secrets_dir(), secret.name, secret.key)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\n")
    except FileNotFoundError:
        raise SecretNotFound(
            f"secret {secret.name}/{secret.key} (for ${secret.env}) is not available: "
            f"set the environment variable {secret.env}, or write the value to {path}"
        ) from None


def task_environment(task: "Task", run_id: str, node_id: str, attempt: int) -> dict[str, str]:
    """The variables to add to the attempt's environment (not including the inherited ones)."""
    env = {
        "TETHER_RUN_ID": run_id,
        "TETHER_NODE_ID": node_id,
        "TETHER_ATTEMPT": str(attempt),
    }
    env.update(dict(task.env))
    for secret in task.secrets:
        env[secret.env] = secret_value(secret)
    return env


MIN_REDACTED_LENGTH = 4
"""Shorter values are not masked: replacing every "ab" in a traceback would garble it and hide
nothing worth hiding (CI systems draw the same line)."""


def redact(text: str, values: Iterable[str]) -> str:
    """`text` with every secret value in it replaced by `***`, longest first."""
    for value in sorted((v for v in values if len(v) >= MIN_REDACTED_LENGTH), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
