"""Limits instead of crashes, and standard JSON at every boundary.

- Expression depth, type depth and input/output name length are located diagnostics (E201,
  E200, E404), never "E000 internal error" or a traceback, in `check` and in `run`.
- A task output nested absurdly deep, or holding NaN/Infinity, fails its attempt with a clear
  message; `-p` refuses non-finite numbers; nothing tether writes holds `NaN` (strict parsers
  reject it), so every record and `--json` parses with non-finite constants refused.
- `tether run`'s top-level handler: an unexpected exception is one line and a bug-report hint,
  the traceback only with --debug or TETHER_DEBUG=1.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import tether
from tether.compiler.load import load
from tether.core.expr import ExprSyntaxError, parse_expr
from tether.core.expr.syntax import MAX_EXPR_DEPTH
from tether.core.types import MAX_TYPE_DEPTH, TypeSyntaxError, parse_type
from tether.runtime.outputs import MAX_VALUE_DEPTH, json_value_problem

STEPS = '''
def one() -> int:
    return 1

def deep() -> list:
    value: list = []
    for _ in range(100_000):
        value = [value]
    return value

def not_a_number(kind: str) -> float:
    return float(kind)

def nested_nan() -> dict:
    return {"a": [1.0, float("nan")]}
'''


def _write(tmp_path: Path, tasks: str, inputs: str = "{}") -> Path:
    (tmp_path / "lsteps.py").write_text(STEPS)
    spec = tmp_path / "limits.yaml"
    spec.write_text(
        f"apiVersion: tether/v1\nkind: Workflow\nmetadata: {{name: limits}}\nspec:\n  inputs: {inputs}\n  tasks:\n{tasks}"
    )
    return spec


def _codes(spec: Path) -> list[tuple[str, int | None]]:
    result = load(str(spec))
    return [(d.code, d.span.line if d.span else None) for d in result.diagnostics]


def _strict(text: str | bytes) -> Any:
    """json.loads that refuses NaN and Infinity, as strict parsers (JavaScript, Go, jq) do."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------------------- compile-time limits


def test_a_when_with_1000_terms_is_a_located_diagnostic(tmp_path: Path) -> None:
    terms = " and ".join(["inputs.x == 1"] * 1000)
    spec = _write(tmp_path, f'    a:\n      python: lsteps:one\n      when: "${{{{ {terms} }}}}"\n', "{x: int}")
    assert ("E201", 9) in _codes(spec) and "E000" not in str(_codes(spec))


def test_an_expression_just_inside_the_limit_is_fine() -> None:
    parse_expr(" and ".join(["true"] * (MAX_EXPR_DEPTH // 2)))
    parse_expr("(" * (MAX_EXPR_DEPTH - 2) + "true" + ")" * (MAX_EXPR_DEPTH - 2))
    with pytest.raises(ExprSyntaxError) as caught:
        parse_expr("(" * (MAX_EXPR_DEPTH + 1) + "true" + ")" * (MAX_EXPR_DEPTH + 1))
    assert caught.value.column == MAX_EXPR_DEPTH + 1  # the first bracket too many


def test_a_type_nested_5000_deep_is_a_located_diagnostic(tmp_path: Path) -> None:
    deep = "list[" * 5000 + "int" + "]" * 5000
    spec = _write(tmp_path, f'    a:\n      python: lsteps:one\n      outputs: {{n: "{deep}"}}\n')
    assert ("E200", 9) in _codes(spec) and "E000" not in str(_codes(spec))


def test_type_depth_at_the_limit() -> None:
    parse_type("list[" * MAX_TYPE_DEPTH + "int" + "]" * MAX_TYPE_DEPTH)
    with pytest.raises(TypeSyntaxError) as caught:
        parse_type("dict[str, " * (MAX_TYPE_DEPTH + 1) + "int" + "]" * (MAX_TYPE_DEPTH + 1))
    assert "nested too deeply" in str(caught.value)


@pytest.mark.parametrize("where", ["outputs", "inputs"])
def test_a_name_over_255_characters_is_a_located_diagnostic(where: str, tmp_path: Path) -> None:
    long = "n" * 256
    if where == "outputs":
        tasks = f"    a:\n      python: lsteps:one\n      outputs: {{{long}: int}}\n"
    else:
        tasks = f"    a:\n      python: lsteps:one\n      inputs: {{{long}: 1}}\n"
    assert ("E404", 9) in _codes(_write(tmp_path, tasks))
    ok = _write(tmp_path, "    a:\n      python: lsteps:one\n      outputs: {" + "n" * 255 + ": int}\n")
    assert not [code for code, _ in _codes(ok) if code == "E404"]


def test_run_reports_the_limits_without_a_traceback(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    terms = " and ".join(["inputs.x == 1"] * 1000)
    deep = "list[" * 5000 + "int" + "]" * 5000
    tasks = (
        f'    a:\n      python: lsteps:one\n      when: "${{{{ {terms} }}}}"\n'
        f'    b:\n      python: lsteps:one\n      outputs: {{n: "{deep}", {"m" * 300}: int}}\n'
    )
    spec = _write(tmp_path, tasks, "{x: int}")
    for command in (["check", str(spec)], ["run", str(spec), "-p", "x=1", "--store", str(tmp_path / "s")]):
        result = tether(tether_cmd, tether_env, *command)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and "E000" not in result.stderr
        for code in ("E201", "E200", "E404"):
            assert f"error[{code}]" in result.stderr


# ---------------------------------------------------------------------------- run-time values


def test_a_100k_deep_return_value_fails_the_attempt_clearly(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    spec = _write(tmp_path, "    a:\n      python: lsteps:deep\n      outputs: {n: 'list[int]'}\n")
    result = tether(tether_cmd, tether_env, "run", str(spec), "--store", str(tmp_path / "s"))
    assert result.returncode == 1
    assert f"nests lists and objects deeper than {MAX_VALUE_DEPTH} levels" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "[1, NaN]"])
def test_p_refuses_non_finite_numbers(
    text: str, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    kind = "list[float]" if text.startswith("[") else "float"
    spec = _write(tmp_path, "    a:\n      python: lsteps:one\n", f"{{f: '{kind}'}}")
    result = tether(tether_cmd, tether_env, "run", str(spec), "-p", f"f={text}", "--store", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "is not a finite number (JSON has no NaN or Infinity)" in result.stderr
    assert not (tmp_path / "s" / "runs").exists()  # refused before anything is written


def test_p_keeps_the_text_nan_for_a_str_input(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    spec = _write(tmp_path, "    a:\n      python: lsteps:one\n", "{s: str}")
    result = tether(tether_cmd, tether_env, "run", str(spec), "-p", "s=NaN", "--store", str(tmp_path / "s"), "--json")
    assert result.returncode == 0, result.stderr
    (run_json,) = (tmp_path / "s" / "runs").glob("*/run.json")
    assert _strict(run_json.read_bytes())["params"] == {"s": "NaN"}


@pytest.mark.parametrize("task", ["not_a_number", "nested_nan"])
def test_non_finite_outputs_fail_the_attempt_and_nothing_written_holds_nan(
    task: str, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    outputs = "{n: float}" if task == "not_a_number" else "{n: 'dict[str, list[float]]'}"
    inputs = "\n      inputs: {kind: inf}" if task == "not_a_number" else ""
    spec = _write(tmp_path, f"    a:\n      python: lsteps:{task}{inputs}\n      outputs: {outputs}\n")
    store = tmp_path / "s"
    result = tether(tether_cmd, tether_env, "run", str(spec), "--store", str(store), "--json")
    assert result.returncode == 1
    assert "is not a finite number (JSON has no NaN or Infinity)" in result.stderr
    report = _strict(result.stdout)
    assert report["status"] == "failed"
    for record in store.rglob("*.json"):
        _strict(record.read_bytes())


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.floats() | st.integers() | st.text(max_size=3), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)))
def test_json_value_problem_matches_strict_json(value: Any) -> None:
    problem = json_value_problem(value)
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        assert problem is not None and "finite" in problem
    else:
        assert problem is None


def test_json_value_problem_is_iterative() -> None:
    value: Any = 1.0
    for _ in range(100_000):
        value = {"k": [value]}
    assert "deeper than" in (json_value_problem(value) or "")
    assert json_value_problem([math.inf]) is not None


# ---------------------------------------------------------------------------- fuzzed nesting


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["(", "[", "not ", "-"]), max_size=400), st.integers(0, 300))
def test_any_nesting_is_parsed_or_refused_never_a_crash(prefix: list[str], terms: int) -> None:
    closing = {"(": ")", "[": "]", "not ": "", "-": ""}
    text = "".join(prefix) + " and ".join(["true"] * (terms + 1)) + "".join(closing[p] for p in reversed(prefix))
    try:
        parse_expr(text)
    except ExprSyntaxError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["list[", "dict[str, "]), max_size=300), st.booleans())
def test_any_type_nesting_is_parsed_or_refused(opening: list[str], optional: bool) -> None:
    text = "".join(opening) + "int" + "]" * len(opening) + ("?" if optional else "")
    try:
        parsed = parse_type(text)
    except TypeSyntaxError:
        assert len(opening) > MAX_TYPE_DEPTH
    else:
        assert len(opening) <= MAX_TYPE_DEPTH and str(parsed).count("[") == len(opening)


# ---------------------------------------------------------------------------- the top-level handler

_CRASH = """
import sys, tether.cli
args = tether.cli.build_parser().parse_args(sys.argv[1:])
import tether.commands.run as run
sys.setrecursionlimit(40)  # a real RecursionError somewhere inside `tether run`: a stand-in for any bug
sys.exit(run.run(args))
"""


@pytest.mark.parametrize("debug", ["", "flag", "env"])
def test_an_unexpected_exception_is_one_line_and_a_hint(debug: str, tether_env: dict[str, str], tmp_path: Path) -> None:
    env = {**tether_env, "TETHER_DEBUG": "1"} if debug == "env" else {k: v for k, v in tether_env.items() if k != "TETHER_DEBUG"}
    argv = [sys.executable, "-c", _CRASH, "run", "--resume", "r1", "--store", str(tmp_path / "s")]
    argv += ["--debug"] if debug == "flag" else []
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "tether run: internal error: RecursionError" in result.stderr
    assert "please report it" in result.stderr
    assert ("Traceback" in result.stderr) == bool(debug)
    if not debug:
        assert len(result.stderr.strip().splitlines()) == 2  # the error and its hint
