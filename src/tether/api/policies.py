"""Policy objects for `@tether.task(...)`: one small value per YAML key, not a 27-argument decorator.

They hold what the user wrote (`"30s"`, `"4Gi"`, `timedelta(...)`) unchanged; the compiler turns
them into the IR's canonical units with the same parsers as the YAML front end, and reports a
bad value as a diagnostic at the decorator's line instead of raising at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:
    from datetime import timedelta

Duration = Union[str, int, float, "timedelta"]
"""`"90s"`, `"1h30m"`, a number of seconds, or a timedelta."""

Quantity = Union[str, int, float]
"""A Kubernetes quantity: `"500m"` or `2` CPUs, `"4Gi"` or a number of bytes of memory."""


@dataclass(frozen=True)
class Backoff:
    """Delay before retry k: min(delay * factor**(k-1), max_delay). YAML: `backoff: {delay, factor, max_delay}`."""

    delay: Duration
    factor: float = 2.0
    max_delay: Duration | None = None


@dataclass(frozen=True)
class Retry:
    """`count` user retries of a RecoverableError (attempts on that budget = 1 + count)."""

    count: int
    backoff: Backoff | None = None


@dataclass(frozen=True)
class Interruptible:
    """May run on spot / preemptible capacity; interruptions have their own budget."""

    max_interruptions: int | None = None  # None: the IR's default budget


@dataclass(frozen=True)
class Checkpoint:
    """Give the task a checkpoint, keeping the newest `keep` committed ones."""

    keep: int | None = None  # None: the IR's default


@dataclass(frozen=True)
class Resources:
    """Requests with Kubernetes quantities: `Resources(cpu="2", memory="4Gi", gpu=1)`."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: int = 0


@dataclass(frozen=True)
class Cache:
    """Reuse outputs when the inputs and `version` match an earlier run; bump `version` to invalidate."""

    version: str = ""


@dataclass(frozen=True)
class Secret:
    """A secret by reference (store `name`, `key`), exposed to the task as environment variable `env`."""

    name: str
    key: str
    env: str


@dataclass(frozen=True)
class TaskOptions:
    """Everything `@tether.task(...)` was given, as written; converted and checked at compile time."""

    name: str | None = None
    retries: int | Retry = 0
    interruptible: bool | Interruptible = False
    checkpoint: bool | Checkpoint = False
    resources: Resources | None = None
    timeout: Duration | None = None
    cache: bool | Cache = False
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
