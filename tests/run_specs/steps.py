"""Small task functions for the `tether run` tests: each does one observable thing."""

from __future__ import annotations

import time

import tether


def explode(reason: str) -> int:
    raise ValueError(reason)


def nap(seconds: float, label: str) -> str:
    time.sleep(seconds)
    return label


def count_to(n: int) -> list[int]:
    return list(range(n))


def square(x: int) -> int:
    return x * x


def total(values: list[int]) -> int:
    return sum(values)


def shout(text: str) -> str:
    print(f"shouting {text}")
    return text.upper()


def hang_first_attempt(seconds: float) -> int:
    """Attempt 1 sleeps far past any timeout; later attempts return their number at once."""
    attempt = tether.current_context().attempt
    if attempt == 1:
        time.sleep(seconds)
    return attempt


def train(steps: int, step_seconds: float) -> dict[str, int]:
    """A resumable loop: one checkpoint per step; reports where this attempt started from."""
    cp = tether.current_context().checkpoint
    prev = cp.read()
    start = int(prev.decode()) if prev else 0
    for step in range(start, steps):
        time.sleep(step_seconds)
        cp.write(str(step + 1).encode())
    return {"result": steps, "resumed_from": start}


def flaky(failures: int) -> int:
    """Fails recoverably in its first `failures` attempts, then returns the attempt number."""
    attempt = tether.current_context().attempt
    if attempt <= failures:
        raise tether.RecoverableError(f"attempt {attempt} fails on purpose")
    return attempt
