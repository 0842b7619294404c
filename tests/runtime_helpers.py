"""What the `tether run` / `tether exec` tests share: where their specs live, the seed example,
resuming a run and waiting for a checkpoint.

pytest puts tests/ on sys.path (rootdir-based imports, no __init__.py), so test modules import
this one by name.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from cli_helpers import tether
from tether.runtime.store import RunStore

TESTS = Path(__file__).resolve().parent
RUN_SPECS = TESTS / "run_specs"
EXAMPLES = TESTS.parent / "specs" / "examples"

# The seed is exercised through the real example, not a copy: both twins, the same task module.
SEED_YAML = str(EXAMPLES / "checkpointing.yaml")
SEED_PYTHON = str(EXAMPLES / "checkpointing.py") + ":checkpointing_example"


def resume(tether_cmd: list[str], env: dict[str, str], run_id: str, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tether run --resume RUN_ID --store STORE ARGS...`."""
    return tether(tether_cmd, env, "run", "--resume", run_id, "--store", str(store), *args)


def wait_for_checkpoint(store: RunStore, run_id: str, node: str, deadline_s: float = 60.0) -> None:
    """Poll until the node's first attempt has committed a checkpoint (its timing is never asserted)."""
    give_up = time.monotonic() + deadline_s
    while time.monotonic() < give_up:
        if store.checkpoint(run_id, node, 1, 2).latest() is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"{node} never committed a checkpoint")
