"""`tether compile -o DIR`: an interrupt (Ctrl-C) mid-write leaves no staged temporaries, and a
renamed Python workflow function leaves no orphaned manifest. The interrupt is raised from the
standard library (the random temporary name, the rename), where a real SIGINT would land; a
real signal cannot be timed into that window reliably."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import tether
from tether.commands.manifest_dir import Compiled, write_set

SET = [Compiled("a.yaml", "a", "a.json", '{"a": 1}\n'), Compiled("b.yaml", "b", "b.json", '{"b": 1}\n')]


def _interrupt_on_call(real: Any, number: int) -> Any:
    calls: list[None] = []

    def wrapper(*args: Any) -> Any:
        calls.append(None)
        if len(calls) == number:
            raise KeyboardInterrupt
        return real(*args)

    return wrapper


def test_an_interrupt_while_staging_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "token_hex", _interrupt_on_call(secrets.token_hex, 2))  # a.json staged, then ^C
    with pytest.raises(KeyboardInterrupt):
        write_set(tmp_path / "out", SET, set(), "ir")
    assert list(tmp_path.iterdir()) == []  # the staged file and the directory made for it are gone


def test_an_interrupt_while_renaming_leaves_no_temporaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "replace", _interrupt_on_call(os.replace, 2))  # a.json renamed, then ^C
    with pytest.raises(KeyboardInterrupt):
        write_set(tmp_path / "out", SET, set(), "ir")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json"]


FLOWS = """\
import tether


@tether.task
def add(a: int, b: int) -> int:
    return a + b


@tether.workflow
def etl(a: int = 1) -> int:
    return add(a=a, b=2)


@tether.workflow
def load(a: int = 1) -> int:
    return add(a=a, b=3)
"""


def test_a_renamed_python_workflow_leaves_no_orphan(tmp_path: Path, tether_env: dict[str, str]) -> None:
    """`flows.py:etl` renamed `etl_v2`: its old manifest is stale once the file is compiled again;
    `load`, defined in the same file but not compiled now, keeps its manifest."""
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    cmd = [sys.executable, "-m", "tether"]

    def compile_(*args: str) -> Any:
        return tether(cmd, tether_env, "compile", *args, "--target", "ir", "-o", "out", cwd=tmp_path)

    first = compile_("flows.py:etl", "flows.py:load")
    assert first.returncode == 0, first.stderr
    (tmp_path / "flows.py").write_text(FLOWS.replace("def etl(", "def etl_v2("), encoding="utf-8")
    check = compile_("flows.py:etl_v2", "--check")
    assert check.returncode == 1
    assert "out/etl.json is owned by flows.py:etl, which no longer exists\n" in check.stderr
    done = compile_("flows.py:etl_v2")
    assert done.returncode == 0, done.stderr
    assert "removed out/etl.json (owned by flows.py:etl, which no longer exists)\n" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".tether-manifests", "etl-v2.json", "load.json"]
    assert compile_("flows.py:etl_v2", "--check").returncode == 0
