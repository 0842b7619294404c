"""`@tether.task(...)` keywords -> the IR's policies, in the same canonical units as the YAML keys.

The same parsers as the YAML front end (`quantities`) and the same rules (retries >= 0, backoff
factor >= 1, checkpoint keep >= 1, timeout > 0) with the same codes, so a Python task and its YAML
twin compile to equal policies and fail the same way. Errors point at the decorator keyword.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Callable, TypeVar

from ...api import policies as user
from ...core.ir import Backoff, CachePolicy, CheckpointPolicy, InterruptPolicy, Resources, RetryPolicy, Secret
from ..quantities import QuantityError, parse_cpu, parse_duration, parse_memory

_Policy = TypeVar("_Policy", InterruptPolicy, CheckpointPolicy)

Report = Callable[[str, str, str, "str | None"], None]
"""report(keyword, code, message, hint): a diagnostic at the decorator keyword."""


def _describe(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, (bool, int, float, str)) or value is None
        else f"a {type(value).__name__}"
    )


def _count(value: Any, what: str, minimum: int, key: str, report: Report) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        report(key, "E109", f"{what} must be a whole number, not {_describe(value)}", None)
        return None
    if value < minimum:
        report(key, "E113", f"{what} must be {minimum} or more, not {value}", None)
        return None
    return value


def duration_seconds(value: Any, what: str, key: str, report: Report, positive: bool) -> int | None:
    """Seconds from "90s"/"1h30m", a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, float) and not isinstance(value, bool):
        seconds = value
    else:
        try:
            result = parse_duration(value)
        except QuantityError as exc:
            report(key, "E111", f"{what}: {exc}", exc.hint)
            return None
        seconds = float(result)
    if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
        report(
            key,
            "E111",
            f"{what}: {value!r} is not a whole, non-negative number of seconds",
            "the smallest unit is a second",
        )
        return None
    if positive and seconds == 0:
        report(key, "E111", f"{what} must be longer than 0s", "leave it out for no limit")
        return None
    return int(seconds)


def retry_policy(value: Any, report: Report) -> RetryPolicy:
    if isinstance(value, user.Retry):
        count = _count(value.count, "Retry.count", 0, "retries", report)
        backoff = _backoff(value.backoff, report) if value.backoff is not None else None
        return RetryPolicy(count or 0, backoff)
    return RetryPolicy(_count(value, "retries", 0, "retries", report) or 0)


def _backoff(value: Any, report: Report) -> Backoff | None:
    if not isinstance(value, user.Backoff):
        report(
            "retries",
            "E109",
            f"Retry.backoff must be a tether.Backoff, not {_describe(value)}",
            'tether.Backoff(delay="30s", factor=2, max_delay="10m")',
        )
        return None
    delay = duration_seconds(value.delay, "Backoff.delay", "retries", report, positive=False)
    factor = value.factor
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        report("retries", "E109", f"Backoff.factor must be a number, not {_describe(factor)}", None)
        factor = 2.0
    elif not 1 <= factor < math.inf:
        report(
            "retries",
            "E113",
            f"Backoff.factor must be 1 or more, not {factor}",
            "1 keeps the delay constant; 2 doubles it",
        )
        factor = 2.0
    max_delay = None
    if value.max_delay is not None:
        max_delay = duration_seconds(value.max_delay, "Backoff.max_delay", "retries", report, positive=False)
    if delay is None:
        return None
    return Backoff(delay, float(factor), max_delay)


def interrupt_policy(value: Any, report: Report) -> InterruptPolicy | None:
    return _switch(value, report, "interruptible", user.Interruptible, "max_interruptions", 0, InterruptPolicy, "(...)")


def checkpoint_policy(value: Any, report: Report) -> CheckpointPolicy | None:
    return _switch(value, report, "checkpoint", user.Checkpoint, "keep", 1, CheckpointPolicy, "(keep=K)")


def _switch(
    value: Any,
    report: Report,
    key: str,
    user_type: type,
    count_field: str,
    minimum: int,
    policy: Callable[..., _Policy],
    call_hint: str,
) -> _Policy | None:
    """`interruptible` and `checkpoint`: True, False/None, or the user's policy object with one
    optional count (None or a bad count falls back to the IR's default, as YAML's `true` does)."""
    if value is True:
        return policy()
    if value is False or value is None:
        return None
    if isinstance(value, user_type):
        raw = getattr(value, count_field)
        what = f"{user_type.__name__}.{count_field}"
        count = None if raw is None else _count(raw, what, minimum, key, report)
        return policy() if count is None else policy(count)
    report(
        key,
        "E109",
        f"{key} must be True, False or tether.{user_type.__name__}{call_hint}, not {_describe(value)}",
        None,
    )
    return None


def cache_policy(value: Any, report: Report) -> CachePolicy | None:
    if value is True:
        return CachePolicy()
    if value is False or value is None:
        return None
    if isinstance(value, user.Cache):
        if not isinstance(value.version, str):
            report(
                "cache",
                "E109",
                f"Cache.version must be a string, not {_describe(value.version)}",
                'tether.Cache(version="2")',
            )
            return CachePolicy()
        return CachePolicy(value.version)
    report(
        "cache",
        "E109",
        f"cache must be True, False or tether.Cache(version=...), not {_describe(value)}",
        None,
    )
    return None


def resources(value: Any, report: Report) -> Resources:
    if value is None:
        return Resources()
    if not isinstance(value, user.Resources):
        report(
            "resources",
            "E109",
            f"resources must be tether.Resources(...), not {_describe(value)}",
            'tether.Resources(cpu="2", memory="4Gi", gpu=1)',
        )
        return Resources()
    fields: dict[str, Any] = {}
    for name, parse, field_name in (
        ("cpu", parse_cpu, "cpu_millicores"),
        ("memory", parse_memory, "memory_bytes"),
    ):
        raw = getattr(value, name)
        if raw is None:
            continue
        try:
            fields[field_name] = parse(raw)
        except QuantityError as exc:
            report("resources", "E112", f"resources.{name}: {exc}", exc.hint)
    gpu = _count(value.gpu, "resources.gpu", 0, "resources", report)
    if gpu is not None:
        fields["gpu"] = gpu
    return Resources(**fields)


def env(value: Any, report: Report) -> tuple[tuple[str, str], ...]:
    result = []
    for name, text in dict(value).items():
        if not isinstance(name, str) or not isinstance(text, str):
            report(
                "env",
                "E109",
                f"env entry {name!r}: names and values must be strings, not {_describe(text)}",
                'env={"LOG_LEVEL": "info"}',
            )
            continue
        result.append((name, text))
    return tuple(result)


def secrets(value: Any, report: Report) -> tuple[Secret, ...]:
    result = []
    for item in value:
        if not isinstance(item, user.Secret) or not all(
            isinstance(v, str) for v in (item.name, item.key, item.env)
        ):
            report(
                "secrets",
                "E109",
                f"secrets must be tether.Secret(name, key, env) values, not {_describe(item)}",
                None,
            )
            continue
        result.append(Secret(item.name, item.key, item.env))
    return tuple(result)


def task_fields(options: user.TaskOptions, report: Report) -> dict[str, Any]:
    """The IR Task fields given by a decorator's options."""
    fields: dict[str, Any] = {
        "retry": retry_policy(options.retries, report),
        "interruptible": interrupt_policy(options.interruptible, report),
        "checkpoint": checkpoint_policy(options.checkpoint, report),
        "resources": resources(options.resources, report),
        "cache": cache_policy(options.cache, report),
        "env": env(options.env, report),
        "secrets": secrets(options.secrets, report),
        "timeout_s": None,
        "image": None,
    }
    if options.timeout is not None:
        fields["timeout_s"] = duration_seconds(options.timeout, "timeout", "timeout", report, positive=True)
    if options.image is not None:
        if isinstance(options.image, str) and options.image:
            fields["image"] = options.image
        else:
            report("image", "E109", f"image must be a non-empty string, not {_describe(options.image)}", None)
    return fields
