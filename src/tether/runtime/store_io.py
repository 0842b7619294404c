"""How the run store meets failure: transient object-store errors retried with backoff, every
other failure of the filesystem turned into a StoreFailure naming the store, and records that
are not what tether wrote recognised as damaged instead of raising deep inside a reader.

A store failure is never a task's: `tether exec` exits 74 on one, the local executor records
that attempt "cancelled" (no budget) and fails the run, and `tether run` says what failed in
one line.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, TypeVar

_T = TypeVar("_T")

OUTCOMES = ("success", "recoverable", "interrupted", "fatal", "timeout", "cancelled")
"""How an attempt ended. "cancelled": the attempt was stopped because its *run* was stopped (Ctrl-C
on `tether run`), not for anything about the task or its machine, so it uses neither retry
budget and a resumed run starts the node again as if the attempt had not happened."""

SPOOL_ENV = "TETHER_SPOOL"
"""Where attempt logs for an object store are spooled (default: ~/.cache/tether/spool)."""


def spool_dir(uri: str, run_id: str) -> str:
    """This machine's spool of attempt logs for one run of the store at `uri` (see
    RunStore.log_spool_path): named after the store and run, never random, so it is found again."""
    import hashlib

    base = os.environ.get(SPOOL_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tether", "spool"
    )
    return os.path.join(base, hashlib.sha256(uri.encode()).hexdigest()[:16], run_id)


class StoreError(Exception):
    """A run store problem a user can act on (the message says what to do)."""


class StoreFailure(StoreError):
    """The store itself failed (no space, no permission, an endpoint that does not answer), after
    any retries: nothing about a task, so it is never charged to a task's budget."""


STORE_RETRIES_ENV = "TETHER_STORE_RETRIES"
DEFAULT_STORE_RETRIES = 4
"""Retries of a transient object-store error (a refused or timed-out connection, a 5xx, a
throttle), with exponential backoff from `_BACKOFF_S` (0.5, 1, 2, 4 s: about 8 s in all), on
top of botocore's own attempts. AWS recommends retrying these with backoff:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorBestPractices.html ;
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"""
_BACKOFF_S = 0.5
_BACKOFF_CAP_S = 8.0
_TRANSIENT_NAMES = frozenset(
    {
        # botocore.exceptions: ConnectionError and its family, and timeouts
        "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError",
        "HTTPClientError", "ProxyConnectionError", "ResponseStreamingError",
        # aiohttp (s3fs runs on aiobotocore)
        "ClientConnectionError", "ClientConnectorError", "ServerDisconnectedError", "ServerTimeoutError",
        "ClientPayloadError",
    }
)
_TRANSIENT_CODES = ("SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable", "InternalError", "503", "500")
"""S3 error codes worth retrying: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""


def is_transient(exc: BaseException) -> bool:
    """A failure that a later try may not see: a lost connection, a timeout, a throttle, a 5xx."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return True
    text = str(exc)
    return not isinstance(exc, (PermissionError, FileNotFoundError)) and any(code in text for code in _TRANSIENT_CODES)


def _describe_failure(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def retries_from_env() -> int:
    text = os.environ.get(STORE_RETRIES_ENV, "").strip()
    if not text:
        return DEFAULT_STORE_RETRIES
    if not text.isdigit():
        raise StoreError(f"{STORE_RETRIES_ENV}={text!r} is not a number of retries (0, 1, 2, ...)")
    return int(text)


class DamagedRecord(StoreError):
    """A record in the store that is not the JSON tether wrote (truncated, empty, binary)."""


def guarded(uri: str, retries: int, what: str, call: Callable[[], _T], writing: bool = False) -> _T:
    """`call()`, retrying transient object-store errors with backoff; any other failure of the
    filesystem becomes a StoreFailure naming the store (`what` completes "cannot ..."). When
    reading, FileNotFoundError passes through: it is an answer (nothing there), not a failure."""
    delay = _BACKOFF_S
    for attempt in range(retries + 1):
        try:
            return call()
        except StoreError:
            raise
        except FileNotFoundError:
            if not writing:
                raise
            raise StoreFailure(f"the run store {uri} failed: cannot {what}: the directory vanished") from None
        except Exception as exc:  # whatever the fsspec implementation raises for I/O
            if is_transient(exc) and attempt < retries:
                time.sleep(delay)
                delay = min(delay * 2, _BACKOFF_CAP_S)
                continue
            tried = f" (after {attempt + 1} tries)" if attempt else ""
            raise StoreFailure(f"the run store {uri} failed: cannot {what}: {_describe_failure(exc)}{tried}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def parse_record(data: bytes, where: str) -> dict[str, Any]:
    """A JSON object from a record's bytes; DamagedRecord (naming `where`) for anything else."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
        what = "empty" if not data.strip() else f"not JSON ({type(exc).__name__}: {str(exc)[:80]})"
        raise DamagedRecord(f"damaged record {where}: {what}") from None
    if not isinstance(value, dict):
        raise DamagedRecord(f"damaged record {where}: a JSON {type(value).__name__}, not an object")
    return value


_EVENT_FIELDS: dict[str, tuple[type, ...]] = {
    "time": (str,),
    "exit_code": (int,),
    "duration_s": (int, float),
    "message": (str,),
    "checkpoint_seq": (int,),
}


def journal_event(data: bytes, outcome: str | None, where: str) -> dict[str, Any]:
    """A journal event as `attempts()` reads it; DamagedRecord when it is not one tether wrote.
    `outcome`: the one an end event's name carries (None for a start), which its body must repeat."""
    event = parse_record(data, where)
    kind = "start" if outcome is None else "end"
    if event.get("event") != kind:
        raise DamagedRecord(f"damaged record {where}: its event is {event.get('event')!r}, its name says {kind!r}")
    if outcome is not None and (outcome not in OUTCOMES or event.get("outcome") != outcome):
        raise DamagedRecord(f"damaged record {where}: its outcome is {event.get('outcome')!r}, its name says {outcome!r}")
    for key, types in _EVENT_FIELDS.items():
        value = event.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            raise DamagedRecord(f"damaged record {where}: {key} is {type(value).__name__}, not {types[0].__name__}")
    return event
