"""Crash consistency: writers SIGKILLed at random moments never leave a torn checkpoint.

A fork server (checkpoint_writer.py) starts real writer processes that resume from the newest
checkpoint and write continuously; the test kills each one with SIGKILL after a random delay,
hundreds of times, and after every kill checks that read() returns a whole checkpoint that was
really written, that no commit was lost (read() is at least the last step a writer saw commit)
and that the sequence never goes backwards.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tether.runtime.checkpoint import Checkpoint, CheckpointWarning

sys.path.insert(0, str(Path(__file__).parent))
from checkpoint_writer import step_of  # noqa: E402

WRITER = Path(__file__).with_name("checkpoint_writer.py")
HANG_GUARD_S = 60.0  # only so a broken writer fails the test instead of hanging it


@dataclass
class ForkServer:
    process: subprocess.Popen[bytes]
    selector: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    buffer: bytes = b""

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def lines_until(self, prefix: str) -> list[str]:
        """Every line the server and its writers print, up to and including one starting with `prefix`."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        seen: list[str] = []
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.decode()
                if line.startswith("error"):
                    pytest.fail(f"writer failed: {line}")
                seen.append(line)
                if line.startswith(prefix):
                    return seen
            if not self.selector.select(HANG_GUARD_S):
                pytest.fail(f"no {prefix!r} line from the writer within {HANG_GUARD_S} s; saw {seen}")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"the fork server exited; saw {seen}")
            self.buffer += chunk


@pytest.fixture
def fork_server() -> Iterator[Callable[..., ForkServer]]:
    servers: list[ForkServer] = []

    def start(uri: str, max_size: int, options: dict | None = None) -> ForkServer:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path]))
        argv = [sys.executable, str(WRITER), uri, str(max_size), json.dumps(options or {})]
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        server = ForkServer(process)
        assert process.stdout is not None
        server.selector.register(process.stdout.fileno(), selectors.EVENT_READ)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.process.kill()
        server.process.wait()


def crash_repeatedly(
    server: ForkServer,
    reader: Checkpoint,
    max_size: int,
    kills: int,
    max_delay_s: float,
    check_leftovers: bool = False,
) -> int:
    """SIGKILL `kills` writers; returns how many kills caught a write in progress."""
    rng = random.Random(20261122)
    last_step = 0
    caught_mid_write = 0
    for attempt in range(1, kills + 1):
        server.send(f"spawn {attempt}")
        lines = server.lines_until("ready")  # the server's `pid` line may come before or after
        lines += [] if any(line.startswith("pid") for line in lines) else server.lines_until("pid")
        pid = next(int(line.split()[1]) for line in lines if line.startswith("pid"))
        ready = next(int(line.split()[1]) for line in lines if line.startswith("ready"))
        assert ready == last_step, "a new writer must resume from the newest checkpoint"

        time.sleep(rng.uniform(0, max_delay_s))  # a random moment; nothing asserts on time
        os.kill(pid, signal.SIGKILL)
        server.send(f"reap {pid}")
        lines += server.lines_until(f"reaped {pid}")
        assert lines[-1] == f"reaped {pid} {-signal.SIGKILL}", "the writer must die by the kill"
        committed = [int(line.split()[1]) for line in lines if line.startswith("committed")]

        with warnings.catch_warnings():
            warnings.simplefilter("error", CheckpointWarning)  # any fallback means a commit tore
            data = reader.read()
        step = 0 if data is None else step_of(data, max_size)  # raises for a torn checkpoint
        assert step >= last_step, "the sequence went backwards"
        assert step >= max(committed, default=0), "a write that returned was lost"
        last_step = step
        caught_mid_write += check_leftovers and _write_in_progress(reader)
    return caught_mid_write


def _write_in_progress(cp: Checkpoint) -> bool:
    """A temp file on disk: proof that the kill landed while a write was in progress."""
    return any(name.endswith(".tmp") for name in os.listdir(cp.root))


def test_sigkilled_local_writers_never_leave_a_torn_checkpoint(
    fork_server: Callable[..., ForkServer], tmp_path: Path
) -> None:
    root = tmp_path / "checkpoints"
    max_size = 4 << 20
    server = fork_server(str(root), max_size)
    reader = Checkpoint.from_uri(str(root), attempt=1000)

    caught = crash_repeatedly(server, reader, max_size, kills=300, max_delay_s=0.03, check_leftovers=True)

    assert caught > 0, "no kill landed during a write: the test proved nothing"
    final = Checkpoint.from_uri(str(root), attempt=1001, keep=3)
    step = step_of(final.read() or b"", max_size)
    final.write(b"done")
    final.close()
    names = sorted(p.name for p in root.iterdir())
    assert len(names) == 6 and all(not n.startswith(".") for n in names), names  # leftovers pruned
    assert step >= 1


def test_sigkilled_s3_writers_never_leave_a_torn_checkpoint(
    fork_server: Callable[..., ForkServer], s3_bucket: tuple[str, dict]
) -> None:
    bucket, options = s3_bucket
    uri = f"{bucket}/runs/r/nodes/n/checkpoints"
    max_size = 1 << 20
    server = fork_server(uri, max_size, options)
    reader = Checkpoint.from_uri(uri, attempt=1000, storage_options=options)

    crash_repeatedly(server, reader, max_size, kills=8, max_delay_s=0.15)
