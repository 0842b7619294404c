"""Secrets are masked in every form, everywhere tether writes, and reach only the tasks that declare them.

A real `tether run` in a subprocess: one task prints its token raw, escaped, JSON-escaped and line
by line, then fails with `KeyError(token)`; another task, which declares no secret, reports
whether it can see the variable. Nothing the run leaves (console, --json, journal, logs) holds
the token in any form.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from cli_helpers import tether

from tether.runtime.task_env import redact, redact_bytes, secret_forms

SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: leaky}
spec:
  tasks:
    snoop:
      python: leaky_steps:snoop
      outputs: {sees_token: bool}
    leak:
      python: leaky_steps:leak
      inputs: {seen: "${{ tasks.snoop.outputs.sees_token }}"}
      outputs: {result: int}
      secrets:
        - {name: api, key: token, env: API_TOKEN}
"""

STEPS = '''\
import json
import os
import sys


def snoop() -> bool:
    return "API_TOKEN" in os.environ


def leak(seen: bool) -> int:
    token = os.environ["API_TOKEN"]
    print(token)
    print(repr(token))
    print(json.dumps({"token": token}))
    for line in token.splitlines():
        print("line:", line)
    sys.stdout.flush()
    raise KeyError(token)
'''


def _token() -> str:
    """Multi-line, with a quote, a backslash and a non-ASCII letter: every escaping differs."""
    return f"tok-{uuid.uuid4().hex}\nsecond'line\\x-é-{uuid.uuid4().hex[:8]}"


def test_a_secret_is_masked_in_logs_journal_console_and_json(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    (tmp_path / "leaky.yaml").write_text(SPEC)
    (tmp_path / "leaky_steps.py").write_text(STEPS)
    token = _token()
    env = {**tether_env, "API_TOKEN": token}
    store = tmp_path / "store"
    result = tether(tether_cmd, env, "run", str(tmp_path / "leaky.yaml"), "--store", str(store), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    forms = secret_forms(token)
    assert len(forms) >= 5
    console = result.stdout + result.stderr
    leaked = [f for f in forms if f in console]
    assert leaked == []
    for path in store.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert [f for f in forms if f.encode() in data] == [], path
    logs = b"".join(p.read_bytes() for p in store.rglob("*.log")).decode()
    assert 'KeyError: "***"' in logs  # str(KeyError) is the repr() of its argument
    assert "line: ***" in logs
    assert '{"token": "***"}' in logs
    leak = next(n for n in report["nodes"] if n.get("node", n.get("id")) == "leak") if isinstance(report.get("nodes"), list) else report["nodes"]["leak"]
    assert "***" in json.dumps(leak)


def test_a_task_that_declares_no_secret_does_not_get_its_variable(tmp_path: Path, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    (tmp_path / "leaky.yaml").write_text(SPEC)
    (tmp_path / "leaky_steps.py").write_text(STEPS)
    env = {**tether_env, "API_TOKEN": _token()}
    store = tmp_path / "store"
    tether(tether_cmd, env, "run", str(tmp_path / "leaky.yaml"), "--store", str(store))
    outputs = list(store.rglob("snoop/outputs.json"))
    assert len(outputs) == 1
    assert json.loads(outputs[0].read_text()) == {"sees_token": False}


def test_every_form_of_a_secret_is_masked() -> None:
    token = "ab\"c\\d\ne'f-é"
    text = " | ".join([token, repr(token), json.dumps(token), json.dumps(token, ensure_ascii=False), repr(token.encode())])
    assert redact(text, [token]) == "*** | '***' | \"***\" | \"***\" | b'***'"
    assert redact_bytes(text.encode(), [token]) == "*** | '***' | \"***\" | \"***\" | b'***'".encode()


def test_each_line_of_a_multi_line_secret_is_masked_and_short_values_are_not() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----"
    printed = "\n".join(f"  {line}" for line in key.splitlines())
    assert redact(printed, [key]) == "  ***\n  ***\n  ***"
    assert redact("a ab abc", ["ab"]) == "a ab abc"
