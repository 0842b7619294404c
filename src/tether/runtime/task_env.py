"""The environment variables a task attempt runs with: identity, the task's `env`, its secrets.

Secrets are referenced by name in a spec, never by value. On Argo and AWS Batch the platform
injects each one as the environment variable the spec names (a Kubernetes secretKeyRef, a
Batch `secrets` entry), so an attempt finds it already set. On this machine the same rule
holds first; when the variable is not set, the value is read from a file:

    $TETHER_SECRETS_DIR/<name>/<key>     (default: .tether/secrets/<name>/<key> in the working directory)

one file per key: the layout of a Kubernetes secret mounted as a volume. Secret values
are put in the environment of the tasks that declare them only (an attempt of any other task
has the variable removed: `withheld_variables`), never in the run store, the journal, or a
log line tether writes: a message, a traceback or a captured log that quotes one is masked
with `redact` in each of its forms (`secret_forms`).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..core.ir import Secret, Task, Workflow

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

MASK = "***"


def secret_forms(value: str) -> frozenset[str]:
    """Every form in which `value` turns up in text: raw, as `repr()` escapes it (a
    `KeyError(token)` in a traceback), as JSON escapes it (ASCII-only and not), as the `repr()`
    of its UTF-8 bytes, and each line of a multi-line value (a PEM key printed line by line)."""
    forms: set[str] = set()
    for part in {value, *value.splitlines()}:
        part = part.strip("\r")
        forms |= {
            part,
            repr(part)[1:-1],
            json.dumps(part)[1:-1],
            json.dumps(part, ensure_ascii=False)[1:-1],
            repr(part.encode("utf-8"))[2:-1],
        }
    return frozenset(f for f in forms if len(f) >= MIN_REDACTED_LENGTH)


def _all_forms(values: Iterable[str]) -> list[str]:
    """Longest first, so a value is masked whole before any of its lines is."""
    forms: set[str] = set()
    for value in values:
        forms |= secret_forms(value)
    return sorted(forms, key=lambda f: (-len(f), f))


def redact(text: str, values: Iterable[str]) -> str:
    """`text` with every secret value in it, in each of its `secret_forms`, replaced by `***`."""
    for form in _all_forms(values):
        text = text.replace(form, MASK)
    return text


def redact_bytes(data: bytes, values: Iterable[str]) -> bytes:
    """`redact` on bytes (a captured log need not be valid UTF-8)."""
    mask = MASK.encode()
    for form in _all_forms(values):
        data = data.replace(form.encode("utf-8"), mask)
    return data


def redact_file(path: str, values: Iterable[str]) -> bool:
    """Mask secrets in the file `path` in place (atomically: a reader sees the old or the new
    file, never a torn one); True when something was masked."""
    forms = tuple(values)
    if not forms:
        return False
    with open(path, "rb") as handle:
        data = handle.read()
    masked = redact_bytes(data, forms)
    if masked == data:
        return False
    temp = f"{path}.redact-{os.getpid()}"
    with open(temp, "wb") as handle:
        handle.write(masked)
    os.replace(temp, path)
    return True


def declared_secret_values(task: "Task") -> tuple[str, ...]:
    """The values of the secrets `task` declares that are available here (the others cannot
    have reached its output)."""
    values = []
    for secret in task.secrets:
        try:
            values.append(secret_value(secret))
        except SecretNotFound:
            continue
    return tuple(values)


def withheld_variables(workflow: "Workflow", task: "Task") -> frozenset[str]:
    """Secret variables other tasks of the workflow declare and `task` does not: an attempt
    must not inherit them from the environment `tether run` was started in."""
    own = {secret.env for secret in task.secrets}
    return frozenset(s.env for t in workflow.tasks for s in t.secrets if s.env not in own)
