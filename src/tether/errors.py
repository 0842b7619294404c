"""The exceptions a task author uses."""

from __future__ import annotations


class RecoverableError(Exception):
    """Raise to ask for a retry: the attempt exits 75 and is retried while `retries` allow.

    Any other exception is fatal and never retried (the seed's rule: only the recoverable
    exception retries), so a bug fails fast instead of burning compute N times.
    """


class ContextError(RuntimeError):
    """`tether.current_context()` was called outside a running task."""
