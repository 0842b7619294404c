"""Small task functions for tests/test_exec.py, each showing one behaviour of `tether exec`."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import tether
from tether import RecoverableError


def add(a: int, b: int) -> int:
    return a + b


def scale(values: list[float], factor: float) -> list[float]:
    assert isinstance(factor, float), "a float input arrives as a float even when given as 1"
    return [v * factor for v in values]


def square(x: int) -> int:
    return x * x


def total(values: list[int]) -> int:
    return sum(values)


class Stats(NamedTuple):
    count: int
    mean: float


def stats(values: list[int]) -> Stats:
    return Stats(len(values), sum(values) / len(values))


def stats_as_dict(values: list[int]) -> dict[str, Any]:
    return {"count": len(values), "mean": sum(values) / len(values)}


def write_report(directory: str) -> Path:
    path = Path(directory) / "report.txt"
    path.write_text("ok\n")
    return path


def broken() -> int:
    raise ValueError("bad input row 17")


def flaky() -> int:
    raise RecoverableError("the API said 503")


def wrong_type() -> int:
    return "seven"  # type: ignore[return-value]


def identity() -> dict[str, str]:
    """What the attempt knows about itself, through its environment and its context."""
    ctx = tether.current_context()
    return {
        "run": os.environ["TETHER_RUN_ID"],
        "node": os.environ["TETHER_NODE_ID"],
        "attempt": os.environ["TETHER_ATTEMPT"],
        "context": f"{ctx.run_id}/{ctx.node_id}/{ctx.attempt}",
        "level": os.environ["LOG_LEVEL"],
        "token_length": str(len(os.environ["API_TOKEN"])),
    }


def checkpoint_then_wait(ready_file: str, finally_file: str) -> int:
    """Write a checkpoint, say so through `ready_file`, then wait to be terminated."""
    cp = tether.current_context().checkpoint
    cp.write(b"step-41")
    try:
        Path(ready_file).write_text("ready")  # inside the try: a SIGTERM right after it still runs finally
        while True:
            time.sleep(0.05)
    finally:
        Path(finally_file).write_text("finally ran")


def resumes(ready_file: str, finally_file: str) -> str:
    """Attempt 2 of the SIGTERM test: returns what attempt 1 left in the checkpoint."""
    previous = tether.current_context().checkpoint.read()
    return previous.decode() if previous is not None else "nothing"


def _logged(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator in the functools convention, as `@tether.task` is: `__wrapped__` is the function."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tether exec must call __wrapped__, not the decorated object")

    return wrapper


@_logged
def decorated(x: int) -> int:
    return x + 1


def exits() -> int:
    import sys

    sys.exit(3)


def checkpoint_forever(ready_file: str) -> int:
    """Write 1 MB checkpoints back to back, so a SIGTERM lands in the middle of one."""
    cp = tether.current_context().checkpoint
    step = 0
    while True:
        cp.write((f"{step:08d}" * 131072).encode())
        if step == 0:
            Path(ready_file).write_text("ready")
        step += 1


def leaky() -> int:
    token = os.environ["API_TOKEN"]
    raise ValueError(f"the server refused token {token}")
