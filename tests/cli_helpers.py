"""Running this tree's `tether` CLI in a subprocess, the way every CLI test does.

pytest puts tests/ on sys.path (rootdir-based imports, no __init__.py), so test modules import
this one by name.
"""

from __future__ import annotations

import subprocess
from typing import Any


def tether(tether_cmd: list[str], env: dict[str, str], *args: str, **run: Any) -> subprocess.CompletedProcess[str]:
    """`tether ARGS...` (`tether_cmd` is the conftest fixture), output captured as text, never hanging the suite."""
    return subprocess.run([*tether_cmd, *args], env=env, capture_output=True, text=True, timeout=120, **run)
