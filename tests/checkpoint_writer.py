"""A fork server of checkpoint writers, for the crash-consistency test to SIGKILL.

    python checkpoint_writer.py URI MAX_SIZE [STORAGE_OPTIONS_JSON]

Imports tether once, then for each `spawn ATTEMPT` line on stdin forks a writer (a few ms, so
hundreds of real processes can be killed in seconds). The writer resumes like a task would: it
reads the newest checkpoint, checks it is whole, prints `ready STEP`, then writes step+1, step+2,
... forever, printing `committed STEP` after each write() returns. For `reap PID` the server
waits for that writer and prints `reaped PID EXITCODE` (-9 after a SIGKILL). Every line is one os.write on stdout (a
pipe), so lines of the server and its writers never interleave mid-line.

A checkpoint's content is a pure function of its step (header + seeded random payload of up to
MAX_SIZE bytes), so a reader can tell a checkpoint that was really written from a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys

import fsspec

from tether.runtime.checkpoint import Checkpoint


def content(step: int, max_size: int) -> bytes:
    """The checkpoint written at `step`: `step size sha256\\n` then the payload."""
    rng = random.Random(step)
    size = rng.choice([0, 1, 4096, max_size // 8, max_size // 2, max_size]) + rng.randrange(512)
    payload = rng.randbytes(size)
    return f"crash-test {step} {size} {hashlib.sha256(payload).hexdigest()}\n".encode() + payload


def step_of(data: bytes, max_size: int) -> int:
    """The step of a whole checkpoint; ValueError for anything that is not exactly one."""
    header, _, payload = data.partition(b"\n")
    tag, step, size, digest = header.decode().split(" ")
    if tag != "crash-test" or int(size) != len(payload) or hashlib.sha256(payload).hexdigest() != digest:
        raise ValueError(f"torn or foreign checkpoint: header {header[:80]!r}, {len(payload)} payload bytes")
    if data != content(int(step), max_size):
        raise ValueError(f"checkpoint {step} is not the one that step writes")
    return int(step)


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def write_forever(uri: str, attempt: int, max_size: int, options: dict) -> None:
    cp = Checkpoint.from_uri(uri, attempt=attempt, keep=3, storage_options=options)
    previous = cp.read()
    step = 0 if previous is None else step_of(previous, max_size)
    say(f"ready {step}")
    while True:
        step += 1
        cp.write(content(step, max_size))
        say(f"committed {step}")


def serve(uri: str, max_size: int, options: dict) -> None:
    fsspec.core.url_to_fs(uri, **options)  # import the filesystem (s3fs: ~0.8 s) once, not per writer
    for command in sys.stdin:
        verb, arg = command.split()
        if verb == "spawn":
            pid = os.fork()
            if pid == 0:
                try:
                    write_forever(uri, int(arg), max_size, options)
                except BaseException as error:  # report, so the test fails instead of waiting
                    say(f"error {type(error).__name__}: {error}")
                finally:
                    os._exit(3)
            say(f"pid {pid}")
        elif verb == "reap":
            _, status = os.waitpid(int(arg), 0)
            say(f"reaped {arg} {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
