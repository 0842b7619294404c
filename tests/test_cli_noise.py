"""Commands that open a run store keep the background event loop of s3fs from printing
asyncio's "Task exception was never retrieved" tracebacks (a vanished S3 endpoint leaves such
tasks behind); tether reports the store failure itself, as one line."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import asyncio, gc, sys
if sys.argv[1] == "quiet":
    from tether.cli import _quiet_background_io
    _quiet_background_io()

async def fails():
    raise ConnectionResetError("Cannot write to closing transport")

async def main():
    asyncio.ensure_future(fails())
    await asyncio.sleep(0.01)

asyncio.run(main())
gc.collect()
"""


def _stderr(mode: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_unretrieved_task_exceptions_are_not_printed(tether_env: dict[str, str]) -> None:
    env = {k: v for k, v in tether_env.items() if k != "TETHER_DEBUG"}
    assert "Task exception was never retrieved" in _stderr("loud", env)  # what a user saw
    assert _stderr("quiet", env) == ""


def test_tether_debug_keeps_them(tether_env: dict[str, str]) -> None:
    assert "Task exception was never retrieved" in _stderr("quiet", {**tether_env, "TETHER_DEBUG": "1"})
